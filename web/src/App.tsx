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
import { useCurrentUser } from "./hooks/useCurrentUser";
import { lazy, Suspense, type ReactNode } from "react";

// The operator's pages (and their chart library) load in a chunk of their own, on first use:
// customers never download them.
const admin = () => import("./pages/admin");
const AdminOverviewPage = lazy(() => admin().then((m) => ({ default: m.AdminOverviewPage })));
const AdminCustomersPage = lazy(() => admin().then((m) => ({ default: m.AdminCustomersPage })));
const AdminCustomerPage = lazy(() => admin().then((m) => ({ default: m.AdminCustomerPage })));
const AdminJobLookupPage = lazy(() => admin().then((m) => ({ default: m.AdminJobLookupPage })));
const AdminJobPage = lazy(() => admin().then((m) => ({ default: m.AdminJobPage })));
const AdminDeadLettersPage = lazy(() => admin().then((m) => ({ default: m.AdminDeadLettersPage })));
const AdminSpendPage = lazy(() => admin().then((m) => ({ default: m.AdminSpendPage })));
const AdminOperatorsPage = lazy(() => admin().then((m) => ({ default: m.AdminOperatorsPage })));

const NAV: [string, string][] = [
  ["/new", "New video"], ["/jobs", "Videos"], ["/billing", "Billing"], ["/api-keys", "API keys"],
  ["/provider-keys", "Provider keys"], ["/webhooks", "Webhooks"], ["/audit", "Audit log"],
];

// The operator's pages, in the same console: shown (and routed) only when /v1/me says so.
const OPERATOR_NAV: [string, string][] = [
  ["/admin", "Overview"], ["/admin/customers", "Customers"], ["/admin/jobs", "Job inspector"],
  ["/admin/dead-letters", "Dead letter"], ["/admin/spend", "Spend"], ["/admin/operators", "Operators"],
];

function OperatorNav() {
  const me = useCurrentUser();
  if (!me.data?.operator) return null;
  return (
    <nav aria-label="Operator">
      <ul>{OPERATOR_NAV.map(([to, label]) => <li key={to}><NavLink to={to} end>{label}</NavLink></li>)}</ul>
    </nav>
  );
}

function RequireOperator({ children }: { children: ReactNode }) {
  const me = useCurrentUser();
  if (me.isLoading) return <p role="status" className="muted">Loading…</p>;
  if (!me.data?.operator) return <NotFoundPage />;
  return <Suspense fallback={<p role="status" className="muted">Loading…</p>}>{children}</Suspense>;
}

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
        ) : null}
        {token ? <OperatorNav /> : (
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
const operatorOnly = (page: ReactNode) => <RequireAuth><RequireOperator>{page}</RequireOperator></RequireAuth>;

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
          <Route path="/admin" element={operatorOnly(<AdminOverviewPage />)} />
          <Route path="/admin/customers" element={operatorOnly(<AdminCustomersPage />)} />
          <Route path="/admin/customers/:id" element={operatorOnly(<AdminCustomerPage />)} />
          <Route path="/admin/jobs" element={operatorOnly(<AdminJobLookupPage />)} />
          <Route path="/admin/jobs/:id" element={operatorOnly(<AdminJobPage />)} />
          <Route path="/admin/dead-letters" element={operatorOnly(<AdminDeadLettersPage />)} />
          <Route path="/admin/spend" element={operatorOnly(<AdminSpendPage />)} />
          <Route path="/admin/operators" element={operatorOnly(<AdminOperatorsPage />)} />
          <Route path="*" element={<NotFoundPage />} />
        </Routes>
      </Frame>
    </AuthProvider>
  );
}
