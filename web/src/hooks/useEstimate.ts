// The estimate of the job the form describes (POST /v1/jobs/estimate), asked for once the form
// has been still for a moment: what each step runs on, what it reserves, how long it takes.
import { keepPreviousData, useQuery } from "@tanstack/react-query";
import { useEffect, useState } from "react";
import { api } from "../api/client";
import type { JobEstimate } from "../api/types";

export const ESTIMATE_KEY = ["estimate"] as const;
const QUIET_MS = 400; // typing does not ask on every key

export function useDebounced<T>(value: T, ms: number): T {
  const [settled, setSettled] = useState(value);
  useEffect(() => {
    const timer = setTimeout(() => setSettled(value), ms);
    return () => clearTimeout(timer);
  }, [value, ms]);
  return settled;
}

/** `body`: the request the form would send, or null while it describes no video yet. */
export function useEstimate(body: Record<string, unknown> | null) {
  const wanted = body ? JSON.stringify(body) : null;
  const asked = useDebounced(wanted, QUIET_MS);
  const query = useQuery({
    queryKey: [...ESTIMATE_KEY, asked],
    queryFn: ({ signal }) =>
      api<JobEstimate>("/v1/jobs/estimate", { method: "POST", body: JSON.parse(asked as string), signal }),
    enabled: asked !== null,
    placeholderData: keepPreviousData,
    retry: false,
  });
  return { ...query, settling: wanted !== asked || query.isFetching };
}
