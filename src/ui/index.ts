// Public surface of the dashboard: `buildApp(deps)` returns the fastify instance without listening
// (the `ui` command listens; tests inject). See docs/dashboard.md for the page, routes and metrics.
export { buildApp, type UiDeps } from './app.js';
export { createMetrics, type UiMetrics } from './metrics.js';
export { CONTENT_SECURITY_POLICY } from './page.js';
export { pairView, pairViews } from './view.js';
export type { Health, PairView, Schedule } from './view.js';
