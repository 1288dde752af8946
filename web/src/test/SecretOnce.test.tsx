import { render, screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it, vi } from "vitest";
import { SecretOnce } from "../components/SecretOnce";

describe("SecretOnce", () => {
  it("shows the secret with the warning, copies it, and is dismissed by the user", async () => {
    const user = userEvent.setup(); // installs a clipboard stub on navigator
    const onDismiss = vi.fn();
    render(<SecretOnce label="New key" what="your new key" secret="ak_SECRET" copyLabel="Copy key" testId="new-key"
      onDismiss={onDismiss} />);
    const region = screen.getByRole("status", { name: "New key" });
    expect(region.textContent).toContain("Copy your new key now. It is shown only this once.");
    expect(screen.getByTestId("new-key").textContent).toBe("ak_SECRET");

    await user.click(screen.getByRole("button", { name: "Copy key" }));
    expect(await navigator.clipboard.readText()).toBe("ak_SECRET");
    expect(screen.getByRole("button", { name: "Copied" })).toBeTruthy();

    expect(onDismiss).not.toHaveBeenCalled();
    await user.click(screen.getByRole("button", { name: "I stored it" }));
    expect(onDismiss).toHaveBeenCalledOnce();
  });
});
