// The console's routes and frame: a skip link, the navigation, and one <main> per page.
import { NavLink, Navigate, Route, Routes, useNavigate } from "react-router-dom";
import { AuthProvider, RequireAuth, useAuth } from "./auth";
import { LoginPage, SignupPage } from "./pages/Auth";
import { NewVideoPage } from "./pages/NewVideo";
import { JobsPage } from "./pages/Jobs";
import { JobPage } from "./pages/Job";
import { ApiKeysPage } from "./pages/ApiKeys";
import { ProviderKeysPage } from "./pages/ProviderKeys";
import { WebhooksPage } from "./pages/Webhooks";
import { BillingPage } from "./pages/Billing";
import { AuditPage } from "./pages/Audit";
import { NotFoundPage } from "./pages/NotFound";
import { ForgotPasswordPage, ResetPasswordPage, VerifyBanner, VerifyEmailPage } from "./pages/Account";
import type { ReactNode } from "react";

const NAV: [string, string][] = [
  ["/new", "New video"], ["/jobs", "Videos"], ["/billing", "Billing"], ["/api-keys", "API keys"],
  ["/provider-keys", "Provider keys"], ["/webhooks", "Webhooks"], ["/audit", "Audit log"],
];

function Frame({ children }: { children: ReactNode }) {
  const { token, logout } = useAuth();
  const navigate = useNavigate();
  return (
    <>
      <a className="skip-link" href="#main">Skip to content</a>
      <header className="topbar">
        <span className="brand">Media console</span>
        {token ? (
          <nav aria-label="Main">
            <ul>
              {NAV.map(([to, label]) => <li key={to}><NavLink to={to}>{label}</NavLink></li>)}
              <li>
                <button type="button" className="link" onClick={() => { logout(); navigate("/login"); }}>
                  Log out
                </button>
              </li>
            </ul>
          </nav>
        ) : (
          <nav aria-label="Account">
            <ul>
              <li><NavLink to="/login">Log in</NavLink></li>
              <li><NavLink to="/signup">Sign up</NavLink></li>
            </ul>
          </nav>
        )}
      </header>
      <main id="main">
        {token ? <VerifyBanner /> : null}
        {children}
      </main>
    </>
  );
}

const guarded = (page: ReactNode) => <RequireAuth>{page}</RequireAuth>;

export function App() {
  return (
    <AuthProvider>
      <Frame>
        <Routes>
          <Route path="/" element={<Navigate to="/jobs" replace />} />
          <Route path="/login" element={<LoginPage />} />
          <Route path="/signup" element={<SignupPage />} />
          <Route path="/forgot-password" element={<ForgotPasswordPage />} />
          <Route path="/reset-password" element={<ResetPasswordPage />} />
          <Route path="/verify-email" element={<VerifyEmailPage />} />
          <Route path="/new" element={guarded(<NewVideoPage />)} />
          <Route path="/jobs" element={guarded(<JobsPage />)} />
          <Route path="/jobs/:id" element={guarded(<JobPage />)} />
          <Route path="/api-keys" element={guarded(<ApiKeysPage />)} />
          <Route path="/provider-keys" element={guarded(<ProviderKeysPage />)} />
          <Route path="/webhooks" element={guarded(<WebhooksPage />)} />
          <Route path="/billing" element={guarded(<BillingPage />)} />
          <Route path="/audit" element={guarded(<AuditPage />)} />
          <Route path="*" element={<NotFoundPage />} />
        </Routes>
      </Frame>
    </AuthProvider>
  );
}
