// The dashboard page: static HTML and CSS kept as TypeScript strings so `dist/` is self-contained
// (tsc emits only .ts). The script lives in page-script.ts. There is no inline script or style
// anywhere, so the Content-Security-Policy can forbid both; every URL is relative so the page also
// works behind an ingress path prefix. Nothing is loaded from another origin (no CDN, no web font).

export { PAGE_SCRIPT } from './page-script.js';

/** Sent with every response. The page needs only its own script, style and JSON. */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

export const PAGE_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>ha-sync</title>
<link rel="icon" href="favicon.svg" type="image/svg+xml">
<link rel="stylesheet" href="assets/app.css">
<script src="assets/app.js" defer></script>
</head>
<body>
<header class="top">
  <div class="brand">
    <img class="logo" src="favicon.svg" alt="" width="28" height="28">
    <h1>ha-sync</h1>
    <span class="sub">both servers, one set of files</span>
  </div>
  <div id="overall" class="overall" role="status" aria-live="polite">Loading&hellip;</div>
  <div class="meta"><span id="pulse" class="pulse" aria-hidden="true"></span><span id="updated">not loaded yet</span></div>
</header>
<div id="banner" class="banner" role="alert" hidden></div>
<main>
  <section id="live" aria-labelledby="live-h" hidden>
    <div class="section-head"><h2 id="live-h">Live sync</h2><span class="hint" id="live-hint"></span></div>
    <div id="strips" class="strips"></div>
  </section>
  <section aria-labelledby="pairs-h">
    <div class="section-head"><h2 id="pairs-h">Pairs</h2><span class="hint" id="pairs-hint"></span></div>
    <div id="cards" class="cards"><p class="empty">Loading&hellip;</p></div>
  </section>
  <section aria-labelledby="act-h">
    <div class="section-head">
      <h2 id="act-h">Recent activity</h2>
      <div class="filters">
        <div class="seg" role="group" aria-label="Show">
          <button type="button" data-kind="all" class="on">All</button>
          <button type="button" data-kind="real">Real syncs</button>
          <button type="button" data-kind="dry">Dry runs</button>
        </div>
        <label class="pair-filter">Pair <select id="pair-filter"><option value="">all pairs</option></select></label>
      </div>
    </div>
    <div class="table-wrap scroll">
      <table class="grid activity">
        <thead><tr>
          <th scope="col">Started</th><th scope="col">Pair</th><th scope="col">Direction</th>
          <th scope="col">Kind</th><th scope="col">Status</th><th scope="col" class="num">Took</th>
          <th scope="col" class="num">Created</th><th scope="col" class="num">Updated</th>
          <th scope="col" class="num">Deleted</th><th scope="col" class="num">Moved</th><th scope="col" class="num">Failed</th>
          <th scope="col" class="num">Bytes</th><th scope="col">Message</th>
        </tr></thead>
        <tbody id="activity-body"><tr><td colspan="13" class="empty">Loading&hellip;</td></tr></tbody>
      </table>
    </div>
    <p class="hint">Click an iteration to see its files.</p>
  </section>
  <section id="ops" class="ops" aria-labelledby="ops-h" hidden>
    <div class="section-head">
      <h2 id="ops-h">Operations</h2>
      <button type="button" id="ops-close" class="close">Close</button>
    </div>
    <div id="ops-summary" class="ops-summary"></div>
    <div class="table-wrap">
      <table class="grid operations">
        <thead><tr>
          <th scope="col">Status</th><th scope="col">Operation</th><th scope="col">File</th>
          <th scope="col" class="num">Size before</th><th scope="col" class="num">Size after</th>
          <th scope="col">Replaced version went to</th><th scope="col">When</th><th scope="col">Message</th>
        </tr></thead>
        <tbody id="ops-body"></tbody>
      </table>
    </div>
    <p class="hint">Click a file to see its history.</p>
  </section>
  <section id="history" class="history-sec" aria-labelledby="hist-h">
    <div class="section-head">
      <h2 id="hist-h">File history</h2>
      <div class="filters">
        <label class="search">Path <input type="search" id="history-path" placeholder="photos/2026/a.jpg" autocomplete="off" spellcheck="false" size="44"></label>
        <label class="pair-filter">Pair <select id="history-pair"><option value="">all pairs</option></select></label>
        <button type="button" id="history-go" class="go">Search</button>
      </div>
    </div>
    <p id="history-summary" class="hint">Type a path relative to the pair's root and press Enter: every copy, update, delete, move, conflict and kept version of it, newest first (across moves), with the command that puts a kept version back.</p>
    <div id="history-wrap" class="table-wrap" hidden>
      <table class="grid history">
        <thead><tr>
          <th scope="col">When</th><th scope="col">Pair</th><th scope="col">Direction</th><th scope="col">Kind</th>
          <th scope="col">Status</th><th scope="col">Operation</th><th scope="col">File</th>
          <th scope="col">Replaced version went to</th><th scope="col">Restore</th>
        </tr></thead>
        <tbody id="history-body"></tbody>
      </table>
    </div>
  </section>
</main>
<footer>Refreshes every 10 seconds &middot; times in your local time zone &middot; <a href="metrics">metrics</a></footer>
</body>
</html>
`;

export const FAVICON_SVG = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32">
<rect width="32" height="32" rx="7" fill="#1f6feb"/>
<path d="M8 12h13l-4-4M24 20H11l4 4" fill="none" stroke="#fff" stroke-width="2.6" stroke-linecap="round" stroke-linejoin="round"/>
</svg>
`;

export const PAGE_CSS = `
:root {
  --bg: #f4f6f9; --panel: #ffffff; --ink: #1b2330; --muted: #5d6b7e; --line: #dde3ea;
  --ok: #1a7f37; --ok-bg: #dcf5e3; --bad: #c62828; --bad-bg: #fde7e7; --warn: #9a5b00;
  --warn-bg: #fff1d6; --run: #1f6feb; --run-bg: #e0ecff; --dry: #6e5bd6; --dry-bg: #ece8ff;
  --dir0: #1f6feb; --dir1: #d9730d; --shadow: 0 1px 2px rgba(20, 30, 50, .06), 0 2px 8px rgba(20, 30, 50, .05);
  color-scheme: light dark;
}
@media (prefers-color-scheme: dark) {
  :root {
    --bg: #0f141b; --panel: #171e28; --ink: #e6ebf2; --muted: #94a3b8; --line: #2a3442;
    --ok: #4ac26b; --ok-bg: #15321f; --bad: #ff6b6b; --bad-bg: #3a1717; --warn: #f0b44c;
    --warn-bg: #3a2a0c; --run: #6ea8ff; --run-bg: #15264a; --dry: #a99bff; --dry-bg: #251f45;
    --dir0: #6ea8ff; --dir1: #f39c4a; --shadow: none;
  }
}
* { box-sizing: border-box; }
html { font-size: 15px; }
body {
  margin: 0; background: var(--bg); color: var(--ink);
  font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
  line-height: 1.4;
}
a { color: var(--run); }
h1 { font-size: 1.35rem; margin: 0; letter-spacing: -.01em; }
h2 { font-size: 1.05rem; margin: 0; }
.top {
  display: flex; align-items: center; gap: 1.2rem; flex-wrap: wrap;
  padding: .8rem 1.5rem; background: var(--panel); border-bottom: 1px solid var(--line);
}
.brand { display: flex; align-items: center; gap: .6rem; }
.logo { display: block; }
.sub { color: var(--muted); font-size: .9rem; }
.overall {
  margin-left: auto; font-weight: 600; padding: .35rem .8rem; border-radius: 999px;
  background: var(--line); color: var(--ink);
}
.overall.ok { background: var(--ok-bg); color: var(--ok); }
.overall.bad { background: var(--bad-bg); color: var(--bad); }
.overall.warn { background: var(--warn-bg); color: var(--warn); }
.strips { display: grid; gap: .4rem; }
.strip { display: flex; flex-wrap: wrap; align-items: center; gap: .5rem; padding: .4rem .6rem; border: 1px solid var(--line); border-radius: 6px; }
.strip h3 { margin: 0 .4rem 0 0; font-size: 1rem; min-width: 7rem; }
.comp { display: inline-flex; align-items: center; gap: .3rem; padding: .15rem .5rem; border-radius: 4px; }
.comp.green { background: var(--ok-bg); color: var(--ok); }
.comp.amber { background: var(--warn-bg); color: var(--warn); }
.comp.red { background: var(--bad-bg); color: var(--bad); }
.comp .why { color: inherit; opacity: .85; font-size: .85em; }
.meta { color: var(--muted); font-size: .85rem; display: flex; align-items: center; gap: .45rem; }
.pulse { width: .55rem; height: .55rem; border-radius: 50%; background: var(--line); }
.pulse.live { background: var(--ok); }
.pulse.down { background: var(--bad); }
.banner {
  margin: 1rem 1.5rem 0; padding: .7rem 1rem; border-radius: 8px;
  background: var(--bad-bg); color: var(--bad); font-weight: 600; border: 1px solid var(--bad);
}
main { padding: 1rem 1.5rem 2rem; max-width: 1500px; margin: 0 auto; }
section { margin-top: 1.2rem; }
.section-head { display: flex; align-items: center; gap: 1rem; flex-wrap: wrap; margin-bottom: .6rem; }
.hint { color: var(--muted); font-size: .85rem; }
.empty { color: var(--muted); padding: 1rem; text-align: center; }
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(520px, 1fr)); gap: 1rem; }
.card {
  background: var(--panel); border: 1px solid var(--line); border-left: 5px solid var(--ok);
  border-radius: 10px; padding: .9rem 1rem .7rem; box-shadow: var(--shadow); min-width: 0;
}
.card.h-failed { border-left-color: var(--bad); }
.card.h-stale { border-left-color: var(--warn); }
.card.h-running { border-left-color: var(--run); }
.card-head { display: flex; align-items: center; justify-content: space-between; gap: .5rem; }
.card-head h3 { margin: 0; font-size: 1.15rem; }
.dir { margin-top: .7rem; }
.dir-head { display: flex; align-items: center; gap: .5rem; font-weight: 600; font-size: .92rem; }
.swatch { width: .7rem; height: .7rem; border-radius: 3px; display: inline-block; }
.swatch.d0 { background: var(--dir0); }
.swatch.d1 { background: var(--dir1); }
.swatch.fail { background: var(--bad); }
.mini-wrap { overflow-x: auto; }
.mini { width: 100%; border-collapse: collapse; margin-top: .3rem; font-size: .85rem; }
.mini th, .mini td { padding: .22rem .35rem; text-align: left; white-space: nowrap; }
.mini thead th { color: var(--muted); font-weight: 500; font-size: .78rem; border-bottom: 1px solid var(--line); }
.mini tbody th { font-weight: 600; }
.mini tr.dry th, .mini tr.dry td { color: var(--muted); }
.num { text-align: right !important; font-variant-numeric: tabular-nums; }
td.zero { color: var(--muted); }
td.fails { color: var(--bad); font-weight: 700; }
.stale-note {
  margin-top: .4rem; padding: .35rem .6rem; border-radius: 6px; font-size: .85rem;
  background: var(--warn-bg); color: var(--warn); font-weight: 600;
}
.err-note {
  margin-top: .4rem; padding: .35rem .6rem; border-radius: 6px; font-size: .85rem;
  background: var(--bad-bg); color: var(--bad); overflow-wrap: anywhere;
}
.badge {
  display: inline-block; padding: .08rem .5rem; border-radius: 999px; font-size: .78rem;
  font-weight: 700; letter-spacing: .02em; white-space: nowrap; background: var(--line);
}
.badge.success, .badge.ok { background: var(--ok-bg); color: var(--ok); }
.badge.failed, .badge.partial_failure { background: var(--bad-bg); color: var(--bad); }
.badge.running { background: var(--run-bg); color: var(--run); }
.badge.stale { background: var(--warn-bg); color: var(--warn); }
.badge.none { color: var(--muted); background: transparent; border: 1px dashed var(--line); }
.kind { display: inline-block; padding: .05rem .45rem; border-radius: 4px; font-size: .74rem; font-weight: 700; letter-spacing: .04em; }
.kind.real { background: var(--ink); color: var(--panel); }
.kind.dry { border: 1.5px dashed var(--dry); color: var(--dry); background: var(--dry-bg); }
.chart { margin-top: .6rem; border-top: 1px solid var(--line); padding-top: .4rem; }
.chart svg { width: 100%; height: auto; display: block; }
.chart .ax { fill: var(--muted); font-size: 9px; }
.chart .lab { fill: var(--muted); font-size: 9px; font-weight: 600; }
.chart .base { stroke: var(--line); stroke-width: 1; }
.chart .d0 { fill: var(--dir0); }
.chart .d1 { fill: var(--dir1); }
.chart .fail { fill: var(--bad); }
.chart .nodata { fill: var(--muted); font-size: 11px; }
.legend { display: flex; gap: 1rem; font-size: .78rem; color: var(--muted); margin-top: .2rem; flex-wrap: wrap; }
.legend span { display: inline-flex; align-items: center; gap: .3rem; }
.filters { display: flex; gap: .8rem; align-items: center; margin-left: auto; flex-wrap: wrap; }
.seg { display: inline-flex; border: 1px solid var(--line); border-radius: 8px; overflow: hidden; }
.seg button {
  border: 0; background: var(--panel); color: var(--ink); padding: .3rem .75rem; font: inherit;
  font-size: .85rem; cursor: pointer; border-right: 1px solid var(--line);
}
.seg button:last-child { border-right: 0; }
.seg button.on { background: var(--run); color: #fff; }
.pair-filter { font-size: .85rem; color: var(--muted); }
select, .close, .go {
  font: inherit; font-size: .85rem; padding: .25rem .5rem; border-radius: 6px;
  border: 1px solid var(--line); background: var(--panel); color: var(--ink);
}
.close { margin-left: auto; cursor: pointer; }
.go { cursor: pointer; }
.table-wrap.scroll { max-height: 36rem; overflow-y: auto; }
.table-wrap { overflow-x: auto; background: var(--panel); border: 1px solid var(--line); border-radius: 10px; box-shadow: var(--shadow); }
.grid { width: 100%; border-collapse: collapse; font-size: .88rem; }
.grid th, .grid td { padding: .45rem .6rem; border-bottom: 1px solid var(--line); text-align: left; vertical-align: top; }
.grid thead th { background: var(--bg); color: var(--muted); font-weight: 600; font-size: .8rem; position: sticky; top: 0; }
.grid tbody tr:last-child td { border-bottom: 0; }
.activity tbody tr { cursor: pointer; }
.activity tbody tr:hover td { background: var(--run-bg); }
.activity tbody tr:focus-visible { outline: 2px solid var(--run); outline-offset: -2px; }
.activity tbody tr.sel td { background: var(--run-bg); box-shadow: inset 0 0 0 9999px rgba(31, 111, 235, .06); }
.activity tbody tr.dry td { background-image: repeating-linear-gradient(135deg, transparent 0 8px, rgba(110, 91, 214, .05) 8px 16px); }
.activity tbody tr.dry td.who { color: var(--muted); }
.grid td.msg { color: var(--bad); max-width: 28rem; overflow-wrap: anywhere; }
.grid tr.bad td { background: var(--bad-bg); }
.grid tr.bad td.who, .grid tr.bad td.path { color: var(--bad); font-weight: 600; }
td.path { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; font-size: .83rem; overflow-wrap: anywhere; min-width: 16rem; }
.when { white-space: nowrap; }
.age { display: block; color: var(--muted); font-size: .78rem; }
.ops { scroll-margin-top: 5rem; }
.ops-summary { display: flex; gap: .6rem; align-items: center; flex-wrap: wrap; margin-bottom: .6rem; font-size: .9rem; }
.ops-summary .fails { color: var(--bad); font-weight: 700; }
.ops-summary .err-inline { color: var(--bad); background: var(--bad-bg); padding: .1rem .5rem; border-radius: 6px; overflow-wrap: anywhere; }
.op { font-weight: 600; }
.op.create { color: var(--ok); }
.op.update { color: var(--run); }
.op.delete { color: var(--warn); }
.op.move { color: var(--dry); }
td.path .moved { display: block; }
td.path .not-copied, td.path .earlier { display: inline-block; margin-top: .15rem; font-family: system-ui, sans-serif; font-size: .75rem; color: var(--muted); }
td.path .earlier { margin-left: .4rem; padding: 0 .35rem; border: 1px dashed var(--line); border-radius: 4px; }
.ops-summary .moves { color: var(--dry); }
.kept-block { margin-top: .7rem; border-top: 1px solid var(--line); padding-top: .5rem; }
.kept-head { display: flex; align-items: center; gap: .5rem; font-weight: 600; font-size: .92rem; margin-top: .3rem; }
.conflict-list { list-style: none; margin: .3rem 0 0; padding: 0; font-size: .83rem; }
.conflict-list li { display: flex; gap: .5rem; align-items: baseline; flex-wrap: wrap; padding: .12rem 0; }
.vers { width: 100%; border-collapse: collapse; margin-top: .3rem; font-size: .85rem; }
.vers th, .vers td { padding: .22rem .35rem; text-align: left; white-space: nowrap; }
.vers thead th { color: var(--muted); font-weight: 500; font-size: .78rem; border-bottom: 1px solid var(--line); }
.vers td.root { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; font-size: .8rem; white-space: normal; overflow-wrap: anywhere; }
.badge.conflicts { background: var(--warn-bg); color: var(--warn); }
.kept { display: inline-block; padding: .02rem .4rem; border-radius: 4px; font-size: .72rem; font-weight: 700; margin-right: .35rem; }
.kept.version { background: var(--run-bg); color: var(--run); }
.kept.conflict { background: var(--warn-bg); color: var(--warn); }
.kept-path, .cmd { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; font-size: .8rem; overflow-wrap: anywhere; }
.cmd { display: block; user-select: all; background: var(--bg); border: 1px solid var(--line); border-radius: 4px; padding: .15rem .35rem; }
.file-link {
  font: inherit; font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; font-size: .83rem;
  background: none; border: 0; padding: 0; color: var(--run); cursor: pointer; text-align: left; overflow-wrap: anywhere;
}
.file-link:hover { text-decoration: underline; }
.copy { font: inherit; font-size: .75rem; margin-top: .2rem; padding: .05rem .45rem; border-radius: 4px; border: 1px solid var(--line); background: var(--panel); color: var(--ink); cursor: pointer; }
.search input { font: inherit; font-size: .85rem; padding: .25rem .5rem; border-radius: 6px; border: 1px solid var(--line); background: var(--panel); color: var(--ink); max-width: 60vw; }
.search { font-size: .85rem; color: var(--muted); }
.history-sec { scroll-margin-top: 5rem; }
.operations td.path { cursor: pointer; }
.operations td.path:hover { text-decoration: underline; }
.history tr.dry td { color: var(--muted); }
footer { color: var(--muted); font-size: .8rem; text-align: center; padding: 1rem 0 2rem; }
@media (max-width: 560px) {
  .cards { grid-template-columns: 1fr; }
  .top .sub { display: none; }
  .top { padding: .6rem .8rem; }
  main { padding: .6rem .8rem 2rem; }
  .overall { margin-left: 0; }
}
`;
