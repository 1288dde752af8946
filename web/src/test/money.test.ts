import { describe, expect, it } from "vitest";
import { creditsShortfall, dollars, modelText, wallText } from "../money";

describe("dollars", () => {
  it("shows whole cents, and four decimals below 10 cents when cents would hide the amount", () => {
    expect(dollars(10_000_000)).toBe("$10.00");
    expect(dollars(189_000)).toBe("$0.19");
    expect(dollars(63_000)).toBe("$0.0630");
    expect(dollars(50_000)).toBe("$0.05");
    expect(dollars(42)).toBe("<$0.0001");
    expect(dollars(1_260)).toBe("$0.0013");
    expect(dollars(0)).toBe("$0");
    expect(dollars(-250_000)).toBe("-$0.25");
  });
});

describe("the rest", () => {
  it("names a model with its quality, says a wall time, reads a 402's details", () => {
    expect(modelText({ provider: "openai", model: "gpt-image-1", quality: "medium" })).toBe("openai gpt-image-1 (medium)");
    expect(modelText({ provider: "offline", model: null })).toBe("offline");
    expect([wallText(7.4), wallText(42), wallText(200)]).toEqual(["about 7 s", "about 40 s", "about 3 min"]);
    expect(creditsShortfall({ needed: 5, available: 1 })).toEqual({ needed: 5, available: 1 });
    expect(creditsShortfall([{ field: "x" }])).toBeNull();
  });
});
