// A list of the user's resources (one page of up to 100), and how the page changes it.
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { api } from "../api/client";

interface Listed<T> { items: T[]; next_cursor: string | null }

export function useResourceList<T extends { id: string }>(key: string, path: string) {
  const queryClient = useQueryClient();
  const list = useQuery({
    queryKey: [key],
    // the signal: a refetch cancels a stale fetch instead of racing it
    queryFn: ({ signal }) => api<Listed<T>>(`${path}?limit=100`, { signal }),
  });
  const refresh = () => void queryClient.invalidateQueries({ queryKey: [key] });
  /** A just-created item is listed at once (a list fetched before it existed must not hide it), then refreshed. */
  const added = (item: T) => {
    queryClient.setQueryData<Listed<T>>([key], (page) =>
      page ? { ...page, items: [item, ...page.items.filter((i) => i.id !== item.id)] } : page);
    refresh();
  };
  return { list, added, refresh };
}
