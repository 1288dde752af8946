// Who is logged in. A 401 from any call clears the token and sends the person to /login,
// remembering where they were.
import { createContext, useCallback, useContext, useEffect, useMemo, useState, type ReactNode } from "react";
import { useQueryClient } from "@tanstack/react-query";
import { useLocation, useNavigate, Navigate } from "react-router-dom";
import { api, ApiError, setUnauthorizedHandler, tokenStore } from "./api/client";
import type { TokenReply } from "./api/types";

interface Auth {
  token: string | null;
  /** Keep the token of a reply that logs the person in (signup, login, password reset). */
  accept: (reply: TokenReply) => void;
  login: (email: string, password: string) => Promise<void>;
  signup: (email: string, password: string) => Promise<void>;
  logout: () => void;
}

const AuthContext = createContext<Auth | null>(null);

export function AuthProvider({ children }: { children: ReactNode }) {
  const [token, setToken] = useState<string | null>(() => tokenStore.get());
  const navigate = useNavigate();
  const queryClient = useQueryClient();

  const accept = useCallback((reply: TokenReply) => {
    tokenStore.set(reply.access_token);
    setToken(reply.access_token);
  }, []);

  const logout = useCallback(() => {
    tokenStore.clear();
    setToken(null);
    queryClient.clear();
  }, [queryClient]);

  useEffect(() => {
    setUnauthorizedHandler(() => {
      setToken(null);
      queryClient.clear();
      // Several queries may fail at once: only the first sends the person to log in.
      const here = window.location.pathname + window.location.search;
      if (window.location.pathname !== "/login") {
        navigate("/login", { replace: true, state: { from: here, expired: true } });
      }
    });
  }, [navigate, queryClient]);

  const value = useMemo<Auth>(() => ({
    token,
    accept,
    login: async (email, password) => accept(await api<TokenReply>("/v1/auth/login", { method: "POST", body: { email, password } })),
    // Signup answers alike for every address (202, no token: it tells no one whether an address
    // has an account); a new account then logs in with the password just chosen.
    signup: async (email, password) => {
      const sent = await api<{ message: string }>("/v1/auth/signup", { method: "POST", body: { email, password } });
      try {
        accept(await api<TokenReply>("/v1/auth/login", { method: "POST", body: { email, password } }));
      } catch (err) {
        if (err instanceof ApiError && err.status === 401) throw new ApiError(409, "check_your_mail", sent.message);
        throw err;
      }
    },
    logout,
  }), [token, accept, logout]);
  return <AuthContext.Provider value={value}>{children}</AuthContext.Provider>;
}

export function useAuth(): Auth {
  const auth = useContext(AuthContext);
  if (!auth) throw new Error("useAuth outside AuthProvider");
  return auth;
}

export function RequireAuth({ children }: { children: ReactNode }) {
  const { token } = useAuth();
  const location = useLocation();
  if (!token) return <Navigate to="/login" replace state={{ from: location.pathname + location.search }} />;
  return <>{children}</>;
}
