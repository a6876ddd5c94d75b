// The dashboard's browser script, served as /assets/app.js. Vanilla JS, no build step, no library.
//
// Invariant: data from the store (pair names, file paths, error messages) reaches the DOM only as
// text nodes (createTextNode / textContent) or as values of a fixed set of attributes; this script
// never assigns innerHTML, outerHTML or insertAdjacentHTML, and never sets an event-handler or style
// attribute, so a file named `<img src=x onerror=alert(1)>.jpg` is shown as exactly that text.
// The CSP (script-src 'self', no 'unsafe-inline') is the second line of defence.
//
// Kept as a string (String.raw, so backslashes stay as written): the script must not contain a
// backtick or a dollar sign followed by a brace.

export const PAGE_SCRIPT = String.raw`'use strict';
(function () {
  var REFRESH_MS = 10000;
  var DAY_MS = 24 * 3600 * 1000;
  var SVGNS = 'http://www.w3.org/2000/svg';
  var ATTRS = ['tabindex', 'role', 'colspan', 'scope', 'datetime', 'aria-label', 'aria-selected', 'data-id', 'type', 'data-pair', 'data-light', 'data-component', 'data-side'];

  var CONFLICT_DAYS = 7;
  var CARD_CONFLICTS = 3;  // newest conflicts listed on a pair's card

  var state = {
    offsetMs: 0,            // server clock minus browser clock
    kind: 'all',            // activity filter: all | real | dry
    pair: '',               // activity filter: pair name or ''
    selected: null,         // the iteration row whose operations are shown
    selectedOps: null,
    lastOk: 0,
    busy: false,
    again: false,
    historyPair: '',        // file-history filter: pair name or ''
    historySeq: 0,          // answers of older searches are dropped
  };

  // ---- DOM helpers: text only ----
  function add(el, kids) {
    if (!Array.isArray(kids)) kids = [kids];
    for (var i = 0; i < kids.length; i++) {
      var c = kids[i];
      if (c === null || c === undefined || c === false) continue;
      if (Array.isArray(c)) { add(el, c); continue; }
      el.appendChild(typeof c === 'object' ? c : document.createTextNode(String(c)));
    }
    return el;
  }
  function h(tag, props) {
    var el = document.createElement(tag);
    setProps(el, props);
    return add(el, Array.prototype.slice.call(arguments, 2));
  }
  function s(tag, props) {
    var el = document.createElementNS(SVGNS, tag);
    if (props) Object.keys(props).forEach(function (k) { el.setAttribute(k, String(props[k])); });
    return add(el, Array.prototype.slice.call(arguments, 2));
  }
  function setProps(el, props) {
    if (!props) return;
    Object.keys(props).forEach(function (k) {
      var v = props[k];
      if (v === null || v === undefined || v === false) return;
      if (k === 'class') el.className = v;
      else if (k === 'title') el.title = String(v);
      else if (k === 'onclick') el.addEventListener('click', v);
      else if (k === 'onkey') el.addEventListener('keydown', v);
      else if (ATTRS.indexOf(k) >= 0) el.setAttribute(k, String(v));
      else throw new Error('attribute not allowed: ' + k);
    });
  }
  function byId(id) { return document.getElementById(id); }

  // ---- formatting ----
  function now() { return Date.now() + state.offsetMs; }
  function span(ms) {
    var sec = Math.max(0, Math.round(ms / 1000));
    if (sec < 60) return sec + ' s';
    var min = Math.floor(sec / 60);
    if (min < 60) return min + ' min';
    var hr = Math.floor(min / 60);
    if (hr < 48) return hr + ' h' + (min % 60 ? ' ' + (min % 60) + ' min' : '');
    return Math.floor(hr / 24) + ' d' + (hr % 24 ? ' ' + (hr % 24) + ' h' : '');
  }
  function ago(iso) {
    var ms = now() - Date.parse(iso);
    return ms < 5000 ? 'just now' : span(ms) + ' ago';
  }
  function clock(iso) {
    var d = new Date(iso);
    var sameDay = new Date(now()).toDateString() === d.toDateString();
    var t = d.toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit' });
    return sameDay ? t : d.toLocaleDateString(undefined, { month: 'short', day: 'numeric' }) + ' ' + t;
  }
  function bytes(n) {
    if (n === null || n === undefined) return '';
    var units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
    var i = 0; var v = n;
    while (v >= 1024 && i < units.length - 1) { v /= 1024; i++; }
    return (i === 0 ? String(v) : v.toFixed(v < 10 ? 2 : v < 100 ? 1 : 0)) + ' ' + units[i];
  }
  function count(n) { return Number(n).toLocaleString(); }
  // Files a sync changed: copied, deleted or moved (renamed instead of copied).
  function changed(it) { return it.filesCreated + it.filesUpdated + it.filesDeleted + (it.filesMoved || 0); }
  var STATUS_TEXT = { success: 'success', partial_failure: 'partial failure', failed: 'failed', running: 'running' };
  function statusBadge(status) { return h('span', { class: 'badge ' + status }, STATUS_TEXT[status] || status); }
  function kindBadge(dry) {
    return dry ? h('span', { class: 'kind dry', title: 'Dry run: nothing was copied or deleted' }, 'DRY RUN')
      : h('span', { class: 'kind real', title: 'Real sync: files were copied and deleted' }, 'REAL');
  }
  function when(iso) {
    return h('span', { class: 'when', title: new Date(iso).toString() }, clock(iso), h('span', { class: 'age' }, ago(iso)));
  }
  function numCell(n, failed) {
    return h('td', { class: 'num' + (n === 0 ? ' zero' : failed ? ' fails' : '') }, count(n));
  }

  // ---- data ----
  function getJSON(url) {
    return fetch(url, { headers: { accept: 'application/json' }, cache: 'no-store' }).then(function (r) {
      return r.json().catch(function () { return null; }).then(function (body) {
        if (!r.ok) throw new Error(body && body.message ? body.message : 'HTTP ' + r.status);
        return body;
      });
    });
  }
  function q(params) {
    return Object.keys(params).filter(function (k) { return params[k] !== '' && params[k] !== undefined; })
      .map(function (k) { return encodeURIComponent(k) + '=' + encodeURIComponent(params[k]); }).join('&');
  }

  function refresh() {
    // One refresh at a time; a filter change during one runs another right after it.
    if (state.busy) { state.again = true; return Promise.resolve(); }
    state.busy = true;
    state.again = false;
    var activity = { limit: 50, pair: state.pair, dry_run: state.kind === 'real' ? '0' : state.kind === 'dry' ? '1' : '' };
    return Promise.all([getJSON('api/pairs'), getJSON('api/iterations?' + q(activity)),
      getJSON('api/conflicts?' + q({ days: CONFLICT_DAYS, limit: 100 })), getJSON('api/versions'),
      getJSON('api/health')])
      .then(function (res) {
        var pairs = res[0]; var its = res[1];
        renderLive(res[4]);
        var kept = keptByPair(res[2], res[3]);
        state.offsetMs = Date.parse(pairs.generatedAt) - Date.now();
        var names = unique(pairs.pairs.map(function (p) { return p.pair; }));
        var since = new Date(now() - DAY_MS).toISOString();
        return Promise.all(names.map(function (name) {
          return getJSON('api/iterations?' + q({ pair: name, dry_run: '0', limit: 500, since: since }))
            .then(function (r) { return r.iterations; });
        })).then(function (charts) {
          var byPair = Object.create(null);
          names.forEach(function (n, i) { byPair[n] = charts[i]; });
          renderOverall(pairs.pairs, res[4]);
          renderCards(pairs.pairs, byPair, kept);
          renderPairFilter('pair-filter', names, state.pair);
          renderPairFilter('history-pair', names, state.historyPair);
          renderActivity(its.iterations);
          state.lastOk = Date.now();
          byId('banner').hidden = true;
          byId('pulse').className = 'pulse live';
          byId('updated').textContent = 'updated ' + new Date().toLocaleTimeString();
          // A selected run still in progress gains operations: reload them, and its new status.
          if (state.selected) {
            var fresh = its.iterations.filter(function (it) { return it.id === state.selected.id; })[0];
            var wasRunning = state.selected.status === 'running';
            if (fresh) { state.selected = fresh; renderOpsSummary(fresh, state.selectedOps); }
            if (wasRunning) return loadOps(state.selected.id, false);
          }
        });
      })
      .catch(function (err) {
        var b = byId('banner');
        b.textContent = 'Cannot load the dashboard data: ' + (err && err.message ? err.message : String(err)) +
          (state.lastOk ? ' (showing what was loaded at ' + new Date(state.lastOk).toLocaleTimeString() + ')' : '');
        b.hidden = false;
        byId('pulse').className = 'pulse down';
      })
      .then(function () {
        state.busy = false;
        if (state.again) return refresh();
      });
  }
  function unique(xs) { return xs.filter(function (x, i) { return xs.indexOf(x) === i; }); }

  // ---- header ----
  // Live health (heartbeats): one strip per pair, each component green, amber or red with its reason.
  var COMP_TEXT = { watcher: 'watcher', applier: 'applier', reconcile: 'reconcile', nats: 'NATS' };
  function renderLive(health) {
    var sec = byId('live');
    if (!health || !health.enabled) { sec.hidden = true; return; }
    sec.hidden = false;
    var pairs = health.pairs || [];
    byId('live-hint').textContent = pairs.length ? 'from heartbeats, every few seconds' : 'no heartbeat heard yet';
    byId('strips').replaceChildren.apply(byId('strips'), pairs.map(function (p) {
      return h('div', { class: 'strip', 'data-pair': p.pair, 'data-light': p.light },
        h('h3', null, p.pair),
        p.components.map(function (c) {
          var name = (COMP_TEXT[c.component] || c.component) + (c.side ? ' ' + c.side : '');
          return h('span', { class: 'comp ' + c.light, 'data-component': c.component, 'data-side': c.side, title: c.reason },
            h('strong', null, name), h('span', { class: 'why' }, c.reason));
        }));
    }));
  }
  function liveTrouble(health) {
    var out = { red: [], amber: [] };
    ((health && health.enabled && health.pairs) || []).forEach(function (p) {
      p.components.forEach(function (c) {
        if (c.light === 'red' || c.light === 'amber') out[c.light].push(p.pair + ' ' + c.component + (c.side ? ' ' + c.side : ''));
      });
    });
    return out;
  }

  function renderOverall(views, health) {
    var el = byId('overall');
    var live = liveTrouble(health);
    if (live.red.length) {
      el.textContent = 'Live sync stopped: ' + live.red.join(', ');
      el.className = 'overall bad';
      return;
    }
    var failed = views.filter(function (v) { return v.health === 'failed'; }).length;
    var stale = views.filter(function (v) { return v.health === 'stale'; }).length;
    var names = unique(views.map(function (v) { return v.pair; }));
    if (views.length === 0) { el.textContent = 'No syncs recorded yet'; el.className = 'overall warn'; return; }
    if (failed || stale) {
      var parts = [];
      if (failed) parts.push(failed + ' failing');
      if (stale) parts.push(stale + ' stale');
      el.textContent = parts.join(', ') + ' of ' + views.length + ' directions';
      el.className = 'overall ' + (failed ? 'bad' : 'warn');
    } else if (live.amber.length) {
      el.textContent = 'In sync; live sync slow: ' + live.amber.join(', ');
      el.className = 'overall warn';
    } else {
      el.textContent = 'All ' + names.length + (names.length === 1 ? ' pair' : ' pairs') + ' in sync';
      el.className = 'overall ok';
    }
    byId('pairs-hint').textContent = names.length + (names.length === 1 ? ' pair, ' : ' pairs, ') + views.length + ' directions';
  }

  // ---- cards ----
  var RANK = { failed: 0, stale: 1, running: 2, ok: 3 };
  var HEALTH_TEXT = { failed: 'failing', stale: 'stale', running: 'syncing', ok: 'in sync' };
  function renderCards(views, charts, kept) {
    var cards = byId('cards');
    if (views.length === 0) {
      cards.replaceChildren(h('p', { class: 'empty' }, 'No sync has been recorded yet. Cards appear after the first run of a pair.'));
      return;
    }
    var groups = Object.create(null);
    var order = [];
    views.forEach(function (v) {
      if (!groups[v.pair]) { groups[v.pair] = []; order.push(v.pair); }
      groups[v.pair].push(v);
    });
    cards.replaceChildren.apply(cards, order.map(function (name) {
      var dirs = groups[name];
      var worst = dirs.reduce(function (w, v) { return RANK[v.health] < RANK[w] ? v.health : w; }, 'ok');
      var dirNames = dirs.map(function (v) { return v.direction; });
      return h('article', { class: 'card h-' + worst, 'data-id': name, 'aria-label': 'pair ' + name },
        h('div', { class: 'card-head' }, h('h3', null, name), h('span', { class: 'badge ' + (worst === 'failed' ? 'failed' : worst === 'ok' ? 'ok' : worst) }, HEALTH_TEXT[worst])),
        dirs.map(function (v, i) { return direction(v, i); }),
        chart(charts[name] || [], dirNames),
        keptBlock(kept[name] || { count: 0, conflicts: [], versions: [] }));
    }));
  }
  function direction(v, i) {
    var staleNote = null;
    if (v.stale) {
      staleNote = h('div', { class: 'stale-note' }, v.secondsSinceSuccess === null
        ? 'Never synced for real: no successful real sync recorded'
        : 'Stale: no successful real sync for ' + span(v.secondsSinceSuccess * 1000) + ' (expected within ' + span(v.staleAfterSeconds * 1000) + ')');
    }
    var err = v.lastReal && v.lastReal.errorMessage ? h('div', { class: 'err-note' }, v.lastReal.errorMessage) : null;
    return h('div', { class: 'dir' },
      h('div', { class: 'dir-head' }, h('span', { class: 'swatch d' + (i % 2) }), v.direction),
      h('div', { class: 'mini-wrap' }, h('table', { class: 'mini' },
        h('thead', null, h('tr', null, h('th', null, ''), h('th', null, 'Status'), h('th', null, 'When'),
          h('th', { class: 'num' }, 'Created'), h('th', { class: 'num' }, 'Updated'), h('th', { class: 'num' }, 'Deleted'),
          h('th', { class: 'num' }, 'Moved'), h('th', { class: 'num' }, 'Failed'), h('th', { class: 'num' }, 'Bytes'))),
        h('tbody', null, miniRow('Real sync', v.lastReal, false), miniRow('Dry run', v.lastDryRun, true)))),
      staleNote, err);
  }
  function miniRow(label, it, dry) {
    if (!it) {
      return h('tr', { class: dry ? 'dry' : '' }, h('th', { scope: 'row' }, label),
        h('td', { colspan: 8 }, h('span', { class: 'badge none' }, 'none yet')));
    }
    return h('tr', { class: dry ? 'dry' : '' }, h('th', { scope: 'row' }, label),
      h('td', null, statusBadge(it.status)),
      h('td', { title: new Date(it.startedAt).toString() }, ago(it.endedAt || it.startedAt)),
      numCell(it.filesCreated), numCell(it.filesUpdated), numCell(it.filesDeleted), numCell(it.filesMoved || 0),
      numCell(it.filesFailed, true), h('td', { class: 'num' }, bytes(it.totalBytesTransferred)));
  }

  // ---- chart: files (top) and bytes (bottom) per real iteration over the last 24 h ----
  function chart(rows, dirNames) {
    var W = 600, H = 112, L = 6, R = 6, TOP = 12, BAND = 36, GAP = 18;
    var t1 = now(), t0 = t1 - DAY_MS;
    var x = function (ms) { return L + ((ms - t0) / DAY_MS) * (W - L - R); };
    var maxFiles = 1, maxBytes = 1;
    rows.forEach(function (r) { maxFiles = Math.max(maxFiles, changed(r) + r.filesFailed); maxBytes = Math.max(maxBytes, r.totalBytesTransferred); });
    var svg = s('svg', { viewBox: '0 0 ' + W + ' ' + H, role: 'img', 'aria-label': 'files changed and bytes copied per real sync over the last 24 hours' });
    var filesBase = TOP + BAND, bytesBase = TOP + BAND + GAP + BAND;
    add(svg, [
      s('text', { x: L, y: 9, class: 'lab' }, 'files  (max ' + count(maxFiles === 1 && rows.length === 0 ? 0 : maxFiles) + ')'),
      s('text', { x: L, y: filesBase + 13, class: 'lab' }, 'bytes  (max ' + bytes(rows.length ? maxBytes : 0) + ')'),
      s('line', { x1: L, x2: W - R, y1: filesBase + 0.5, y2: filesBase + 0.5, class: 'base' }),
      s('line', { x1: L, x2: W - R, y1: bytesBase + 0.5, y2: bytesBase + 0.5, class: 'base' }),
      s('text', { x: L, y: H - 2, class: 'ax' }, '24 h ago'),
      s('text', { x: W / 2, y: H - 2, class: 'ax', 'text-anchor': 'middle' }, '12 h ago'),
      s('text', { x: W - R, y: H - 2, class: 'ax', 'text-anchor': 'end' }, 'now'),
    ]);
    if (rows.length === 0) {
      add(svg, s('text', { x: W / 2, y: TOP + BAND - 4, class: 'nodata', 'text-anchor': 'middle' }, 'no real syncs in the last 24 hours'));
    }
    rows.forEach(function (r) {
      var t = Date.parse(r.startedAt);
      if (t < t0) return;
      // The two directions sit side by side, so runs at the same time do not hide each other.
      var di = Math.max(0, dirNames.indexOf(r.direction)) % 2;
      var cx = Math.min(W - R - 3, Math.max(L, x(t) + (di === 0 ? -3 : 0)));
      var d = 'd' + di;
      var tip = r.direction + ' at ' + clock(r.startedAt) + ': ' + count(changed(r)) + ' files changed' +
        (r.filesMoved ? ' (' + count(r.filesMoved) + ' moved)' : '') + ', ' +
        count(r.filesFailed) + ' failed, ' + bytes(r.totalBytesTransferred) + ' (' + (STATUS_TEXT[r.status] || r.status) + ')';
      var fh = changed(r) ? Math.max(1.5, (changed(r) / maxFiles) * BAND) : 0;
      var ffh = r.filesFailed ? Math.max(1.5, (r.filesFailed / maxFiles) * BAND) : 0;
      var bh = r.totalBytesTransferred ? Math.max(1.5, (r.totalBytesTransferred / maxBytes) * BAND) : 0;
      if (fh) add(svg, s('rect', { x: cx, y: filesBase - fh, width: 3, height: fh, class: d }, s('title', null, tip)));
      if (ffh) add(svg, s('rect', { x: cx, y: filesBase - fh - ffh, width: 3, height: ffh, class: 'fail' }, s('title', null, tip)));
      if (bh) add(svg, s('rect', { x: cx, y: bytesBase - bh, width: 3, height: bh, class: d }, s('title', null, tip)));
      if (!fh && !ffh && !bh) add(svg, s('rect', { x: cx, y: filesBase - 1.5, width: 3, height: 1.5, class: d, opacity: 0.5 }, s('title', null, tip)));
    });
    var legend = h('div', { class: 'legend' },
      dirNames.map(function (n, i) { return h('span', null, h('span', { class: 'swatch d' + (i % 2) }), n); }),
      h('span', null, h('span', { class: 'swatch fail' }), 'failed files'),
      h('span', null, count(rows.length) + (rows.length === 1 ? ' real sync' : ' real syncs') + ' in 24 h'));
    return h('div', { class: 'chart' }, svg, legend);
  }

  // ---- activity ----
  function renderPairFilter(id, names, keep) {
    var sel = byId(id);
    var have = Array.prototype.map.call(sel.options, function (o) { return o.value; }).slice(1);
    if (have.join('\n') === names.join('\n')) return;
    sel.replaceChildren(h('option', null, 'all pairs'));
    sel.options[0].value = '';
    names.forEach(function (n) { var o = h('option', null, n); o.value = n; sel.appendChild(o); });
    sel.value = names.indexOf(keep) >= 0 ? keep : '';
  }
  function renderActivity(rows) {
    var body = byId('activity-body');
    if (rows.length === 0) {
      body.replaceChildren(h('tr', null, h('td', { colspan: 13, class: 'empty' }, 'No iterations match.')));
      return;
    }
    body.replaceChildren.apply(body, rows.map(function (it) {
      var bad = it.status === 'failed' || it.status === 'partial_failure' || it.filesFailed > 0;
      var cls = (it.dryRun ? 'dry' : 'real') + (bad ? ' bad' : '') + (state.selected && state.selected.id === it.id ? ' sel' : '');
      var open = function () { select(it); };
      return h('tr', {
        class: cls, tabindex: 0, 'data-id': it.id, 'aria-selected': state.selected && state.selected.id === it.id ? 'true' : 'false',
        title: 'Show the files of iteration #' + it.id, onclick: open,
        onkey: function (e) { if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); open(); } },
      },
        h('td', null, when(it.startedAt)),
        h('td', { class: 'who' }, it.syncPair),
        h('td', { class: 'who' }, it.direction),
        h('td', null, kindBadge(it.dryRun)),
        h('td', null, statusBadge(it.status)),
        h('td', { class: 'num' }, it.endedAt ? span(Date.parse(it.endedAt) - Date.parse(it.startedAt)) : ''),
        numCell(it.filesCreated), numCell(it.filesUpdated), numCell(it.filesDeleted), numCell(it.filesMoved || 0),
        numCell(it.filesFailed, true), h('td', { class: 'num' }, bytes(it.totalBytesTransferred)),
        h('td', { class: 'msg' }, it.errorMessage || ''));
    }));
  }

  // ---- operations of one iteration ----
  function select(it) {
    state.selected = it;
    state.selectedOps = null;
    Array.prototype.forEach.call(byId('activity-body').children, function (tr) {
      var on = tr.getAttribute('data-id') === String(it.id);
      tr.classList.toggle('sel', on);
      tr.setAttribute('aria-selected', on ? 'true' : 'false');
    });
    return loadOps(it.id, true);
  }
  function loadOps(id, scroll) {
    var panel = byId('ops');
    panel.hidden = false;
    if (scroll) {
      byId('ops-body').replaceChildren(h('tr', null, h('td', { colspan: 8, class: 'empty' }, 'Loading…')));
      renderOpsSummary(state.selected, null);
      panel.scrollIntoView({ block: 'start', behavior: 'smooth' });
    }
    return getJSON('api/operations?' + q({ iteration_id: id, limit: 500 })).then(function (r) {
      if (!state.selected || state.selected.id !== id) return;
      state.selectedOps = r.operations;
      renderOps(r.operations);
      renderOpsSummary(state.selected, r.operations);
    }).catch(function (err) {
      byId('ops-body').replaceChildren(h('tr', { class: 'bad' }, h('td', { colspan: 8, class: 'msg' }, 'Cannot load operations: ' + err.message)));
    });
  }
  function renderOpsSummary(it, ops) {
    var fails = ops ? ops.filter(function (o) { return o.status === 'fail'; }).length : 0;
    // Through add(), which skips the parts that are null (replaceChildren would print "null").
    var el = byId('ops-summary');
    el.replaceChildren();
    add(el, [
      h('strong', null, 'Iteration #' + it.id), h('span', null, it.syncPair + ' · ' + it.direction), kindBadge(it.dryRun), statusBadge(it.status),
      when(it.startedAt),
      ops ? h('span', null, count(ops.length) + (ops.length === 500 ? '+ operations (first 500 shown)' : ops.length === 1 ? ' operation' : ' operations')) : null,
      fails ? h('span', { class: 'fails' }, count(fails) + ' failed') : null,
      it.filesMoved ? h('span', { class: 'moves' }, count(it.filesMoved) + (it.filesMoved === 1 ? ' move' : ' moves') + ' (renamed, not copied)') : null,
      it.errorMessage ? h('span', { class: 'err-inline' }, 'Message: ' + it.errorMessage) : null]);
  }
  function renderOps(ops) {
    var body = byId('ops-body');
    if (ops.length === 0) {
      body.replaceChildren(h('tr', null, h('td', { colspan: 8, class: 'empty' }, 'No file operations in this iteration: nothing needed to change.')));
      return;
    }
    // Failures first: they are what the owner came to see.
    var sorted = ops.slice().sort(function (a, b) { return (a.status === 'fail' ? 0 : 1) - (b.status === 'fail' ? 0 : 1); });
    body.replaceChildren.apply(body, sorted.map(function (o) {
      var bad = o.status === 'fail';
      return h('tr', { class: bad ? 'bad' : '' },
        h('td', null, h('span', { class: 'badge ' + (bad ? 'failed' : 'success') }, bad ? 'failed' : 'ok')),
        h('td', null, h('span', { class: 'op ' + o.operation }, o.operation)),
        h('td', { class: 'path', title: 'Show the history of this file', onclick: function () { showHistory(o.filepath, state.selected ? state.selected.syncPair : ''); } }, pathCell(o)),
        h('td', { class: 'num' }, bytes(o.sizeBefore)),
        h('td', { class: 'num' }, bytes(o.sizeAfter)),
        h('td', null, keptCell(o)),
        h('td', null, when(o.startedAt)),
        h('td', { class: 'msg' }, o.errorMessage || ''));
    }));
  }

  // A move reads "moved from <old> to <new>" (words made by the server, shown as text) with the
  // bytes the rename saved copying; any other operation shows its file.
  function pathCell(o) {
    if (!o.moveText) return o.filepath;
    return [h('span', { class: 'moved' }, o.moveText),
      o.notCopiedText ? h('span', { class: 'not-copied' }, o.notCopiedText) : null];
  }

  // ---- kept versions and conflict copies ----
  function keptByPair(conflicts, versions) {
    var by = Object.create(null);
    function of(pair) { return by[pair] || (by[pair] = { count: 0, conflicts: [], versions: [] }); }
    conflicts.counts.forEach(function (c) { of(c.pair).count = c.conflicts; });
    conflicts.conflicts.forEach(function (c) { of(c.syncPair).conflicts.push(c); });
    versions.versions.forEach(function (v) { of(v.pair).versions.push(v); });
    return by;
  }
  function fileLink(path, pair) {
    return h('button', { type: 'button', class: 'file-link', title: 'Show the history of this file', onclick: function () { showHistory(path, pair); } }, path);
  }
  function keptBlock(k) {
    var list = k.conflicts.slice(0, CARD_CONFLICTS).map(function (c) {
      return h('li', null, when(c.startedAt), fileLink(c.filepath, c.syncPair),
        h('span', { class: 'hint' }, 'loser kept as'), h('span', { class: 'kept-path' }, c.keptPath));
    });
    var vers = k.versions.length === 0
      ? h('p', { class: 'hint' }, 'No versions area recorded yet: it appears after the first expiry pass of a run.')
      : h('div', { class: 'mini-wrap' }, h('table', { class: 'vers' },
        h('thead', null, h('tr', null, h('th', null, 'Side'), h('th', null, 'Root'), h('th', { class: 'num' }, 'Files'),
          h('th', { class: 'num' }, 'Bytes'), h('th', null, 'Oldest'), h('th', null, 'Checked'))),
        h('tbody', null, k.versions.map(function (v) {
          return h('tr', { 'data-id': v.sideLabel }, h('th', { scope: 'row' }, v.sideLabel), h('td', { class: 'root' }, v.root),
            numCell(v.files), h('td', { class: 'num' }, bytes(v.bytes)),
            h('td', { title: v.oldestAt ? new Date(v.oldestAt).toString() : '' }, v.oldestAt ? ago(v.oldestAt) : 'none'),
            h('td', { title: new Date(v.updatedAt).toString() }, ago(v.updatedAt)));
        }))));
    return h('div', { class: 'kept-block' },
      h('div', { class: 'kept-head' }, 'Conflicts, last ' + CONFLICT_DAYS + ' days',
        h('span', { class: 'badge ' + (k.count ? 'conflicts' : 'ok') }, count(k.count))),
      list.length ? h('ul', { class: 'conflict-list' }, list) : null,
      k.count > list.length && list.length ? h('p', { class: 'hint' }, (k.count - list.length) + ' more: search a file for its history') : null,
      h('div', { class: 'kept-head' }, 'Kept versions'),
      vers);
  }
  function keptCell(o) {
    if (!o.keptPath) return '';
    return [h('span', { class: 'kept ' + o.keptKind }, o.keptKind === 'conflict' ? 'conflict copy' : 'version'),
      h('span', { class: 'kept-path' }, o.keptPath)];
  }
  function showHistory(path, pair) {
    byId('history-path').value = path;
    state.historyPair = pair || '';
    byId('history-pair').value = state.historyPair;
    byId('history').scrollIntoView({ block: 'start', behavior: 'smooth' });
    return searchHistory();
  }
  function searchHistory() {
    // Spaces around a pasted path are never part of it; inside a name they stay.
    var path = byId('history-path').value.trim();
    var summary = byId('history-summary');
    if (path === '') { summary.textContent = 'Type a path first, such as photos/2026/a.jpg.'; return Promise.resolve(); }
    var seq = ++state.historySeq;
    summary.textContent = 'Searching…';
    return getJSON('api/history?' + q({ path: path, pair: state.historyPair, limit: 200 })).then(function (r) {
      if (seq !== state.historySeq) return;
      renderHistory(r.path, r.history);
    }).catch(function (err) {
      if (seq !== state.historySeq) return;
      byId('history-wrap').hidden = true;
      byId('history-body').replaceChildren();
      summary.textContent = 'Cannot search: ' + err.message;
    });
  }
  function renderHistory(path, rows) {
    var summary = byId('history-summary');
    var wrap = byId('history-wrap');
    if (rows.length === 0) {
      wrap.hidden = true;
      byId('history-body').replaceChildren();
      summary.textContent = 'Nothing recorded for ' + path + ': no copy, update, delete, move or kept version of it.';
      return;
    }
    var versions = rows.filter(function (r) { return r.restoreCommand; }).length;
    // Rows the history found under an earlier path of the file (before a move brought it here).
    var earlier = rows.filter(function (r) { return r.followedPath && r.followedPath !== path; }).length;
    var away = movedAwayTo(path, rows);
    summary.textContent = count(rows.length) + (rows.length === 1 ? ' operation' : ' operations') + ' on ' + path +
      ' and its copies, newest first' + (earlier ? '; ' + count(earlier) + ' under an earlier path, before a move' : '') +
      (away ? '; then moved to ' + away : '') +
      (versions ? '; ' + count(versions) + ' kept ' + (versions === 1 ? 'version' : 'versions') + ' to restore' : '') + '.';
    wrap.hidden = false;
    byId('history-body').replaceChildren.apply(byId('history-body'), rows.map(function (r) {
      var bad = r.status === 'fail';
      return h('tr', { class: (r.dryRun ? 'dry' : 'real') + (bad ? ' bad' : ''), 'data-id': r.id },
        h('td', null, when(r.startedAt)),
        h('td', { class: 'who' }, r.syncPair),
        h('td', { class: 'who' }, r.direction),
        h('td', null, kindBadge(r.dryRun)),
        h('td', null, h('span', { class: 'badge ' + (bad ? 'failed' : 'success') }, bad ? 'failed' : 'ok')),
        h('td', null, h('span', { class: 'op ' + r.operation }, r.operation)),
        h('td', { class: 'path' }, pathCell(r), r.followedPath && r.followedPath !== path
          ? h('span', { class: 'earlier', title: 'The file was at ' + r.followedPath + ' then: a later move brought it to ' + path }, 'earlier path') : null),
        h('td', null, keptCell(r)),
        h('td', { class: 'restore' }, r.restoreCommand ? restoreCell(r.restoreCommand) : ''));
    }));
  }
  // Where the newest move took the path (or a directory above it) away, when that is the last row
  // of its own history; null when it was not moved away.
  function movedAwayTo(path, rows) {
    var r = rows[0];
    if (!r || r.operation !== 'move' || !r.movedFrom || r.followedPath !== path) return null;
    if (r.movedFrom === path) return r.filepath;
    return path.indexOf(r.movedFrom + '/') === 0 ? r.filepath + path.slice(r.movedFrom.length) : null;
  }
  function restoreCell(cmd) {
    var copy = navigator.clipboard ? h('button', { type: 'button', class: 'copy', onclick: function (e) {
      var b = e.target;
      navigator.clipboard.writeText(cmd).then(function () { b.textContent = 'Copied'; }, function () { b.textContent = 'Select and copy'; });
    } }, 'Copy') : null;
    return [h('code', { class: 'cmd' }, cmd), copy];
  }

  // ---- wiring ----
  function init() {
    Array.prototype.forEach.call(document.querySelectorAll('.seg button'), function (b) {
      b.addEventListener('click', function () {
        state.kind = b.getAttribute('data-kind');
        Array.prototype.forEach.call(document.querySelectorAll('.seg button'), function (o) { o.classList.toggle('on', o === b); });
        void refresh();
      });
    });
    byId('pair-filter').addEventListener('change', function (e) { state.pair = e.target.value; void refresh(); });
    byId('history-pair').addEventListener('change', function (e) { state.historyPair = e.target.value; });
    byId('history-go').addEventListener('click', function () { void searchHistory(); });
    byId('history-path').addEventListener('keydown', function (e) { if (e.key === 'Enter') { e.preventDefault(); void searchHistory(); } });
    byId('ops-close').addEventListener('click', function () {
      state.selected = null;
      byId('ops').hidden = true;
      Array.prototype.forEach.call(byId('activity-body').children, function (tr) { tr.classList.remove('sel'); });
    });
    void refresh();
    setInterval(function () { void refresh(); }, REFRESH_MS);
  }
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', init);
  else init();
})();
`;
