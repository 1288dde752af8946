// The operator's pages, one chunk (App.tsx loads it lazily, behind the operator role).
export { AdminOverviewPage } from "./Overview";
export { AdminCustomerPage, AdminCustomersPage } from "./Customers";
export { AdminJobLookupPage, AdminJobPage } from "./JobInspector";
export { AdminDeadLettersPage } from "./DeadLetters";
export { AdminSpendPage } from "./Spend";
export { AdminOperatorsPage } from "./Operators";
