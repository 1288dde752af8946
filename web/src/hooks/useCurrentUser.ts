// The logged-in user (GET /v1/me): their plan, this period's usage, their membership. One query
// for every page that shows it, so a change (verified email, new plan) refreshes them all.
import { useQuery } from "@tanstack/react-query";
import { api } from "../api/client";
import type { Me } from "../api/types";

export const CURRENT_USER_KEY = ["me"] as const;

export function useCurrentUser() {
  return useQuery({ queryKey: CURRENT_USER_KEY, queryFn: ({ signal }) => api<Me>("/v1/me", { signal }) });
}
