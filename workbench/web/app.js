// fundtrace workbench: one page over the server's API. Every text from
// the server (addresses, labels, notes) is put in the page as text, never
// as markup: the page builds its elements with h() below and never sets
// innerHTML.
'use strict';

const state = { who: null, csrf: '', poll: null, graph: null, cy: null, expand: [], victim: '', trace: null, caseID: '', explored: [] };

// h builds an element: h('a', {href: '#/x', onclick: f}, 'text', child).
function h(tag, props, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(props || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else if (k === 'class') e.className = v;
    else if (k === 'text') e.textContent = v;
    else e.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of kids.flat()) {
    if (c === undefined || c === null || c === false) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

const main = () => document.getElementById('main');
function show(...kids) {
  const m = main();
  m.replaceChildren(...kids.flat(Infinity).filter((k) => k !== null && k !== undefined && k !== false));
  m.focus();
}

// api calls the server; writes carry the session's CSRF token.
// The body's data-busy says how many calls are pending (tests and
// assistive tools wait for 0).
let pending = 0;
function busy(d) { pending += d; document.body.dataset.busy = String(pending); }

async function api(method, path, body) {
  busy(1);
  try { return await call(method, path, body); } finally { busy(-1); }
}

async function call(method, path, body) {
  const opt = { method, headers: {}, credentials: 'same-origin' };
  if (method !== 'GET') opt.headers['X-CSRF-Token'] = state.csrf;
  if (body !== undefined) {
    opt.headers['Content-Type'] = 'application/json';
    opt.body = JSON.stringify(body);
  }
  const r = await fetch(path, opt);
  if (r.status === 204) return null;
  const data = await r.json().catch(() => ({}));
  if (!r.ok) {
    const msg = (data.error && data.error.message) || ('HTTP ' + r.status);
    const err = new Error(msg);
    err.status = r.status;
    if (r.status === 401 && path !== '/v1/session') signedOut();
    throw err;
  }
  return data;
}

function errorBox(e) { return h('p', { class: 'error', role: 'alert' }, e.message || String(e)); }

// Units: base units as a decimal string with the asset's decimals.
function units(amount, decimals) {
  let s = String(amount || '0');
  const neg = s.startsWith('-');
  if (neg) s = s.slice(1);
  if (!decimals) return (neg ? '-' : '') + s;
  s = s.padStart(decimals + 1, '0');
  let out = s.slice(0, s.length - decimals) + '.' + s.slice(s.length - decimals);
  out = out.replace(/0+$/, '').replace(/\.$/, '');
  return (neg ? '-' : '') + out;
}
function assetInfo(g, asset) {
  const a = (g && g.assets && g.assets[asset]) || {};
  return { symbol: a.symbol || asset, decimals: a.decimals || 0 };
}

// ---- signing in ----

function signedOut() {
  state.who = null;
  state.csrf = '';
  stopPoll();
  document.getElementById('search').hidden = true;
  document.getElementById('nav').hidden = true;
  document.getElementById('signout').hidden = true;
  document.getElementById('who').textContent = '';
  const key = h('input', { id: 'key', type: 'password', autocomplete: 'off', required: true, size: 60 });
  const msg = h('p', { role: 'status' });
  const form = h('form', { id: 'signin', onsubmit: async (ev) => {
    ev.preventDefault();
    try {
      const who = await api('POST', '/v1/session', { key: key.value.trim() });
      key.value = '';
      signedIn(who);
    } catch (e) { msg.replaceChildren(errorBox(e)); }
  } }, h('h1', {}, 'Sign in'),
  h('p', {}, 'Paste your API key (fundtrace apikey create). The page keeps a session cookie, not the key.'),
  h('label', { for: 'key' }, 'API key '), key, ' ', h('button', { type: 'submit', class: 'primary' }, 'Sign in'), msg);
  show(form);
  key.focus();
}

function signedIn(who) {
  state.who = who;
  state.csrf = who.csrf || '';
  document.getElementById('search').hidden = false;
  document.getElementById('nav').hidden = false;
  document.getElementById('signout').hidden = false;
  document.getElementById('who').textContent = who.name + (who.read_only ? ' (read-only)' : '');
  route();
}

// ---- routing ----

function route() {
  if (!state.who) return;
  stopPoll();
  const parts = location.hash.replace(/^#\/?/, '').split('/').map(decodeURIComponent);
  const [a, b, c] = parts;
  if (a === 'search' && b) return searchPage(parts.slice(1).join('/'));
  if (a === 'case' && b) return casePage(b);
  if (['btc', 'eth', 'tron'].includes(a) && b === 'address' && c) return addressPage(a, c);
  if (['btc', 'eth', 'tron'].includes(a) && b === 'tx' && c) return txPage(a, c);
  if (['btc', 'eth', 'tron'].includes(a) && b === 'cluster' && c) return clusterPage(a, c);
  return casesPage();
}

function link(text, hash) { return h('a', { href: hash }, text); }
function addrLink(chain, a) { return h('a', { href: '#/' + chain + '/address/' + encodeURIComponent(a), class: 'mono' }, a); }
function txLink(chain, t) { return h('a', { href: '#/' + chain + '/tx/' + encodeURIComponent(t), class: 'mono' }, t); }

// ---- search, address, transaction, cluster ----

async function searchPage(q) {
  show(h('h1', {}, 'Search'), h('p', {}, 'Searching for ', h('strong', {}, q), '…'));
  try {
    const r = await api('GET', '/v1/search?q=' + encodeURIComponent(q));
    const rows = r.hits.map((x) => {
      let target = '';
      if (x.kind === 'address' || x.kind === 'label') target = '#/' + x.chain + '/address/' + encodeURIComponent(x.id);
      if (x.kind === 'tx') target = '#/' + x.chain + '/tx/' + encodeURIComponent(x.id);
      if (x.kind === 'case') target = '#/case/' + encodeURIComponent(x.id);
      return h('tr', {}, h('td', {}, x.kind), h('td', {}, x.chain || ''), h('td', { class: 'mono' }, target ? link(x.id, target) : x.id), h('td', {}, x.text));
    });
    show(h('h1', {}, 'Search: ', q), rows.length ? h('table', { id: 'search-results' }, h('tr', {}, h('th', {}, 'Kind'), h('th', {}, 'Chain'), h('th', {}, 'What'), h('th', {}, 'Description')), rows)
      : h('p', { id: 'search-results' }, 'Nothing found.'));
  } catch (e) { show(h('h1', {}, 'Search'), errorBox(e)); }
}

function screeningBox(s) {
  if (!s) return null;
  const kids = [h('h2', {}, 'Screening')];
  if (s.status !== 'screened') kids.push(h('p', { class: 'error' }, 'Not screened: ' + (s.error || s.status) + ' — unknown is not clean.'));
  else if (s.sanctioned) kids.push(h('p', { class: 'hit' }, 'SANCTIONED: ' + s.sanctions.map((x) => x.entity + ' (' + x.programs.join(', ') + ')').join('; ')));
  else kids.push(h('p', { class: 'ok' }, 'Not listed on the list of ' + (s.screened_against.list_date || '?')));
  if (s.cluster_sanctioned) kids.push(h('p', { class: 'hit' }, 'Another address of its cluster is listed.'));
  if (s.labels && s.labels.length) kids.push(h('p', {}, 'Labels: ', s.labels.map((l) => l.label + ' (' + l.category + ', ' + l.source + ')').join('; ')));
  if (s.cluster) {
    kids.push(h('p', {}, 'Cluster ', link(String(s.cluster.id), '#/' + s.chain + '/cluster/' + s.cluster.id), ', ' + s.cluster.size + ' addresses',
      s.cluster.flagged_merge ? ' — built through a flagged merge of two large clusters' : ''));
  }
  return h('div', { class: 'panel' }, kids);
}

async function addressPage(chain, a, offset = 0) {
  show(h('h1', {}, 'Address'), h('p', { class: 'mono' }, a));
  try {
    const r = await api('GET', '/v1/' + chain + '/addresses/' + encodeURIComponent(a) + '?limit=100&offset=' + offset);
    const kids = [h('h1', {}, chain.toUpperCase() + ' address'), h('p', { class: 'mono' }, r.address), screeningBox(r.screening)];
    if (!r.seen) kids.push(h('p', {}, 'No indexed block names this address.'));
    if (r.utxo) {
      const u = r.utxo;
      kids.push(h('p', {}, 'Received ' + units(u.total_received, 8) + ' BTC in ' + u.outputs + ' outputs; sent ' + units(u.total_sent, 8) + '; balance ' + units(u.balance, 8) + ' BTC (' + u.unspent_outputs + ' unspent).'));
      kids.push(h('table', {}, h('tr', {}, h('th', {}, 'Height'), h('th', {}, 'Received in'), h('th', { class: 'num' }, 'BTC'), h('th', {}, 'Spent in')),
        u.history.map((e) => h('tr', {}, h('td', {}, e.height), h('td', {}, txLink(chain, e.tx_hash), ':' + e.output_index), h('td', { class: 'num' }, units(e.value, 8)),
          h('td', {}, e.spent_by ? txLink(chain, e.spent_by.tx_hash) : 'unspent')))));
      if (u.next_offset) kids.push(h('button', { onclick: () => addressPage(chain, a, u.next_offset) }, 'Next page'));
    }
    if (r.account) {
      const acc = r.account;
      kids.push(h('table', {}, h('tr', {}, h('th', {}, 'Asset'), h('th', { class: 'num' }, 'Received'), h('th', { class: 'num' }, 'Sent'), h('th', { class: 'num' }, 'Balance')),
        (acc.balances || []).map((b) => h('tr', {}, h('td', { class: 'mono' }, b.symbol ? b.symbol + ' ' + b.asset : b.asset), h('td', { class: 'num' }, units(b.received, b.decimals)),
          h('td', { class: 'num' }, units(b.sent, b.decimals)), h('td', { class: 'num' }, units(b.balance, b.decimals))))));
      kids.push(transfersTable(chain, acc.transfers));
      if (acc.next_offset) kids.push(h('button', { onclick: () => addressPage(chain, a, acc.next_offset) }, 'Next page'));
    }
    show(kids);
  } catch (e) { show(h('h1', {}, 'Address'), errorBox(e)); }
}

function transfersTable(chain, ts) {
  return h('table', {}, h('tr', {}, h('th', {}, 'Height'), h('th', {}, 'Transaction'), h('th', {}, 'From'), h('th', {}, 'To'), h('th', { class: 'num' }, 'Amount'), h('th', {}, 'Asset'), h('th', {}, 'OK')),
    ts.map((t) => h('tr', {}, h('td', {}, t.height), h('td', {}, t.tx_hash ? txLink(chain, t.tx_hash) : ''), h('td', {}, addrLink(chain, t.from)), h('td', {}, addrLink(chain, t.to)),
      h('td', { class: 'num' }, units(t.amount, t.decimals === undefined ? (chain === 'eth' && t.asset === 'ETH' ? 18 : chain === 'tron' && t.asset === 'TRX' ? 6 : 0) : t.decimals)),
      h('td', { class: 'mono' }, t.symbol || t.asset), h('td', {}, t.success ? 'yes' : 'FAILED'))));
}

async function txPage(chain, t) {
  show(h('h1', {}, 'Transaction'), h('p', { class: 'mono' }, t));
  try {
    const r = await api('GET', '/v1/' + chain + '/txs/' + encodeURIComponent(t));
    const kids = [h('h1', {}, chain.toUpperCase() + ' transaction'), h('p', { class: 'mono' }, r.hash)];
    if (r.inputs) {
      kids.push(h('p', {}, 'Block ' + r.block_height + ', ' + new Date(r.block_time * 1000).toISOString() + '; fee ' + units(r.fee, 8) + ' BTC'));
      kids.push(h('h2', {}, 'Inputs'), h('table', {}, h('tr', {}, h('th', {}, '#'), h('th', {}, 'Address'), h('th', { class: 'num' }, 'BTC'), h('th', {}, 'Spends')),
        r.inputs.map((i) => h('tr', {}, h('td', {}, i.index), h('td', {}, i.coinbase ? 'coinbase' : i.addresses.map((a) => addrLink(chain, a))), h('td', { class: 'num' }, units(i.value, 8)),
          h('td', {}, i.spent_tx_hash ? txLink(chain, i.spent_tx_hash) : '')))));
      kids.push(h('h2', {}, 'Outputs'), h('table', {}, h('tr', {}, h('th', {}, '#'), h('th', {}, 'Address'), h('th', { class: 'num' }, 'BTC'), h('th', {}, 'Spent by')),
        r.outputs.map((o) => h('tr', {}, h('td', {}, o.index), h('td', {}, o.addresses.map((a) => addrLink(chain, a))), h('td', { class: 'num' }, units(o.value, 8)),
          h('td', {}, o.spent_by ? txLink(chain, o.spent_by.tx_hash) : 'unspent')))));
    } else {
      kids.push(h('p', {}, 'Block ' + r.height + ', ' + r.time + ', ' + (r.success ? 'success' : 'FAILED') + '; from ', addrLink(chain, r.from), r.to ? [' to ', addrLink(chain, r.to)] : ''));
      kids.push(h('h2', {}, 'Transfers'), transfersTable(chain, r.transfers));
    }
    show(kids);
  } catch (e) { show(h('h1', {}, 'Transaction'), errorBox(e)); }
}

async function clusterPage(chain, id, after = '') {
  show(h('h1', {}, 'Cluster ' + id));
  try {
    const r = await api('GET', '/v1/' + chain + '/clusters/' + encodeURIComponent(id) + '?limit=100&after=' + encodeURIComponent(after));
    const kids = [h('h1', {}, chain.toUpperCase() + ' cluster ' + r.id), h('p', {}, r.size + ' addresses; heuristics ' + r.heuristics.join(', ') + '; clustered to block ' + r.clustered_to_height)];
    if (r.flagged_merge) kids.push(h('p', { class: 'error' }, 'Built through a multi-input merge of two large clusters: check fundtrace cluster suspects before relying on it.'));
    if (r.sanctioned.length) kids.push(h('p', { class: 'hit' }, 'Listed members: ' + r.sanctioned.map((x) => x.address + ' (' + x.entity + ')').join('; ')));
    if (r.labels.length) kids.push(h('p', {}, 'Labels: ' + r.labels.map((l) => l.label + ' (' + l.address + ')').join('; ')));
    kids.push(h('h2', {}, 'Members'), h('ul', {}, r.members.map((m) => h('li', {}, addrLink(chain, m)))));
    if (r.next) kids.push(h('button', { onclick: () => clusterPage(chain, id, r.next) }, 'Next page'));
    kids.push(h('h2', {}, 'Evidence'), h('table', {}, h('tr', {}, h('th', {}, 'Address'), h('th', {}, 'Other'), h('th', {}, 'Heuristic'), h('th', {}, 'Transaction')),
      r.evidence.map((e) => h('tr', {}, h('td', {}, addrLink(chain, e.address)), h('td', {}, addrLink(chain, e.other)), h('td', {}, e.heuristic), h('td', {}, txLink(chain, e.tx_hash))))));
    show(kids);
  } catch (e) { show(h('h1', {}, 'Cluster'), errorBox(e)); }
}

// ---- cases ----

async function casesPage() {
  try {
    const r = await api('GET', '/v1/cases');
    const title = h('input', { id: 'case-title', required: true, maxlength: 200, size: 40 });
    const seeds = h('textarea', { id: 'case-seeds', placeholder: 'chain,tx,address,amount,time,victim[,asset,log_index]' });
    const file = h('input', { id: 'case-file', type: 'file', accept: '.csv,text/csv', onchange: async () => { if (file.files[0]) seeds.value = await file.files[0].text(); } });
    const msg = h('p', { role: 'status' });
    const form = h('form', { id: 'new-case', class: 'panel', onsubmit: async (ev) => {
      ev.preventDefault();
      try {
        const c = await api('POST', '/v1/cases', { title: title.value, seeds: seeds.value });
        location.hash = '#/case/' + encodeURIComponent(c.id);
      } catch (e) { msg.replaceChildren(errorBox(e)); }
    } }, h('h2', {}, 'New case'),
    h('p', {}, h('label', { for: 'case-title' }, 'Title '), title),
    h('p', {}, h('label', { for: 'case-file' }, 'Case file (case.csv) '), file),
    h('p', {}, h('label', { for: 'case-seeds' }, 'or paste its rows'), seeds),
    h('button', { type: 'submit', class: 'primary', disabled: state.who.read_only }, 'Open the case'), msg);
    show(h('h1', {}, 'Cases'),
      r.cases.length ? h('table', { id: 'cases' }, h('tr', {}, h('th', {}, 'Case'), h('th', {}, 'Title'), h('th', { class: 'num' }, 'Payments'), h('th', {}, 'Traces'), h('th', {}, 'Opened')),
        r.cases.map((c) => h('tr', {}, h('td', {}, link(c.id, '#/case/' + encodeURIComponent(c.id))), h('td', {}, c.title), h('td', { class: 'num' }, c.payments),
          h('td', {}, c.traces.length), h('td', {}, c.created + ' by ' + c.created_by)))) : h('p', {}, 'No case yet.'),
      state.who.read_only ? h('p', { class: 'muted' }, 'This key is read-only: it cannot open cases.') : form);
  } catch (e) { show(h('h1', {}, 'Cases'), errorBox(e)); }
}

function stopPoll() { if (state.poll) { clearTimeout(state.poll); state.poll = null; } }

async function casePage(id) {
  state.caseID = id;
  let r;
  try { r = await api('GET', '/v1/cases/' + encodeURIComponent(id)); } catch (e) { show(h('h1', {}, 'Case'), errorBox(e)); return; }
  const c = r.case;
  const running = c.traces.find((t) => t.status === 'running');
  const done = c.traces.filter((t) => t.status === 'done');
  const models = ['haircut', 'fifo', 'poison'].map((m) => h('label', {}, h('input', { type: 'checkbox', value: m, checked: m !== 'poison', class: 'model' }), ' ' + m));
  const mixers = h('input', { type: 'checkbox', id: 'through-mixers' });
  const msg = h('p', { role: 'status' });
  const run = h('button', { id: 'run-trace', class: 'primary', disabled: !!running || state.who.read_only || c.payments === 0, onclick: async () => {
    try {
      const chosen = models.map((l) => l.querySelector('input')).filter((i) => i.checked).map((i) => i.value);
      await api('POST', '/v1/cases/' + encodeURIComponent(id) + '/trace', { models: chosen, through_mixers: mixers.checked });
      casePage(id);
    } catch (e) { msg.replaceChildren(errorBox(e)); }
  } }, 'Run trace');
  const traces = h('table', { id: 'traces' }, h('tr', {}, h('th', {}, 'Trace'), h('th', {}, 'Status'), h('th', {}, 'Progress'), h('th', {}, 'Models'), h('th', {}, 'Started'), h('th', {}, 'File')),
    c.traces.map((t) => h('tr', {}, h('td', {}, t.id), h('td', { class: 'status-' + t.status }, t.status + (t.error ? ': ' + t.error : '')),
      h('td', {}, h('span', { class: 'progress', role: 'progressbar', 'aria-valuemin': 0, 'aria-valuemax': t.max_hops, 'aria-valuenow': t.hop }, bar(t.hop / Math.max(1, t.max_hops), t.status)),
        ' hop ' + t.hop + ', ' + t.followed + ' followed'),
      h('td', {}, t.models.join(', ') + (t.through_mixers ? ', through mixers' : '')), h('td', {}, t.started + ' by ' + t.started_by),
      h('td', {}, t.status === 'done' ? [h('a', { href: '/v1/cases/' + encodeURIComponent(id) + '/traces/' + encodeURIComponent(t.id) + '/file', download: id + '-' + t.id + '.json' }, 'trace file'),
        ' ', bundleLink(id, t.id, 'report', c), ' ', bundleLink(id, t.id, 'freeze', c), ' ', h('button', { onclick: () => openTrace(id, t.id) }, 'Open')] : ''))));
  const notes = h('div', { id: 'notes' }, h('h2', {}, 'Notes'), r.notes.length ? h('table', {}, h('tr', {}, h('th', {}, 'On'), h('th', {}, 'Note'), h('th', {}, 'Tags'), h('th', {}, 'By')),
    r.notes.map((n) => h('tr', { class: 'note' }, h('td', { class: 'mono' }, n.target.kind + ' ' + n.target.ref), h('td', { class: 'note-text' }, n.text), h('td', {}, n.tags.join(', ')),
      h('td', {}, n.author + ', ' + n.time)))) : h('p', { class: 'muted' }, 'No notes yet.'), noteForm(id));
  show(h('h1', {}, c.title), h('p', { class: 'muted' }, c.id + ' — ' + c.payments + ' payments — opened ' + c.created + ' by ' + c.created_by),
    h('div', { class: 'panel row' }, models, h('label', {}, mixers, ' through mixers'), run), msg, traces,
    h('div', { id: 'trace-view' }), notes, infoForm(id, c));
  if (running) state.poll = setTimeout(() => { if (state.caseID === id && location.hash.startsWith('#/case/')) casePage(id); }, 400);
  else if (done.length) openTrace(id, done[done.length - 1].id);
}

// bundleLink downloads a done trace's report bundle or freezing requests,
// dated by the case's information (the form below sets it).
function bundleLink(id, tid, kind, c) {
  const date = (c.info && c.info.date) || '';
  const label = kind === 'report' ? 'report' : 'freezing requests';
  if (!date) return h('span', { class: 'muted', title: 'set the report date in the case information below' }, label + ' (needs a date)');
  return h('a', { href: '/v1/cases/' + encodeURIComponent(id) + '/traces/' + encodeURIComponent(tid) + '/' + kind + '?date=' + encodeURIComponent(date), download: id + '-' + tid + '-' + kind + '.zip', class: 'bundle-' + kind }, label);
}

// infoForm sets who sends the case's report and letters.
function infoForm(id, c) {
  const info = c.info || {};
  const fields = [['reference', 'Reference'], ['agency', 'Agency'], ['unit', 'Unit'], ['investigator', 'Investigator'], ['title', 'Title'], ['email', 'Reply email'],
    ['phone', 'Phone'], ['legal_basis', 'Legal basis'], ['deadline', 'Deadline'], ['date', 'Report date (YYYY-MM-DD)']];
  const inputs = {};
  const msg = h('p', { role: 'status' });
  const row = fields.map(([k, label]) => {
    inputs[k] = h('input', { id: 'info-' + k, value: info[k] || '', size: 24 });
    return h('label', { for: 'info-' + k }, label, inputs[k]);
  });
  inputs.address = h('textarea', { id: 'info-address' });
  inputs.address.value = info.address || '';
  if (state.who.read_only) return h('div', { class: 'panel' }, h('h2', {}, 'Case information'), h('p', {}, fields.map(([k, l]) => info[k] ? l + ': ' + info[k] + '. ' : '')));
  return h('form', { id: 'info-form', class: 'panel', onsubmit: async (ev) => {
    ev.preventDefault();
    const body = {};
    for (const [k, el] of Object.entries(inputs)) if (el.value.trim()) body[k] = el.value.trim();
    try { await api('POST', '/v1/cases/' + encodeURIComponent(id) + '/info', body); casePage(id); } catch (e) { msg.replaceChildren(errorBox(e)); }
  } }, h('h2', {}, 'Case information'), h('p', { class: 'muted' }, 'Who sends the report and the freezing requests; letters are written only when it names the agency, the investigator and a reply address.'),
  h('div', { class: 'row' }, row), h('label', { for: 'info-address' }, 'Postal address'), inputs.address, h('p', {}, h('button', { type: 'submit' }, 'Save')), msg);
}

function bar(frac, status) {
  const s = h('span', {});
  s.style.width = (status === 'done' ? 100 : Math.min(100, Math.round(frac * 100))) + '%';
  return s;
}

function noteForm(id, target) {
  const kind = h('select', { id: 'note-kind' }, ['address', 'tx', 'edge'].map((k) => h('option', { value: k, selected: target && target.kind === k }, k)));
  const ref = h('input', { id: 'note-ref', size: 50, value: target ? target.ref : '' });
  const chain = h('input', { id: 'note-chain', size: 5, value: target ? target.chain : 'btc' });
  const text = h('textarea', { id: 'note-text' });
  const tags = h('input', { id: 'note-tags', placeholder: 'tags, comma separated' });
  const msg = h('p', { role: 'status' });
  if (state.who.read_only) return h('p', { class: 'muted' }, 'This key is read-only: it cannot write notes.');
  return h('form', { id: 'note-form', class: 'panel', onsubmit: async (ev) => {
    ev.preventDefault();
    try {
      await api('POST', '/v1/cases/' + encodeURIComponent(id) + '/notes', { target: { kind: kind.value, chain: chain.value, ref: ref.value.trim() }, text: text.value,
        tags: tags.value.split(',').map((t) => t.trim()).filter(Boolean) });
      casePage(id);
    } catch (e) { msg.replaceChildren(errorBox(e)); }
  } }, h('h3', {}, 'Add a note'), h('div', { class: 'row' }, h('label', { for: 'note-kind' }, 'On', kind), h('label', { for: 'note-chain' }, 'Chain', chain),
    h('label', { for: 'note-ref' }, 'Address, transaction or FROM→TO', ref)), h('label', { for: 'note-text' }, 'Note'), text, h('p', {}, tags, ' ', h('button', { type: 'submit' }, 'Save note')), msg);
}

// ---- a trace: graph, deposits, timeline ----

async function openTrace(id, tid) {
  // Another trace: nothing expanded, highlighted or followed, laid out anew.
  if (state.trace !== id + '/' + tid) { state.expand = []; state.victim = ''; state.explored = []; state.relayout = true; }
  state.trace = id + '/' + tid;
  await drawTrace(id, tid);
}

async function drawTrace(id, tid) {
  const view = document.getElementById('trace-view');
  if (!view) return;
  const q = state.expand.map((e) => 'expand=' + encodeURIComponent(e));
  if (state.victim) q.push('victim=' + encodeURIComponent(state.victim));
  let g;
  const t0 = performance.now();
  try { g = await api('GET', '/v1/cases/' + encodeURIComponent(id) + '/traces/' + encodeURIComponent(tid) + '/graph?' + q.join('&')); } catch (e) { view.replaceChildren(errorBox(e)); return; }
  state.graph = g;
  const status = () => {
    document.getElementById('graph-status').textContent = g.nodes.length + ' nodes, ' + g.edges.length + ' flows; drawn in ' + Math.round(performance.now() - t0) + ' ms' +
      (g.highlight ? '; ' + g.highlight.edges.length + ' flows on ' + g.highlight.victim + "'s paths" : '');
  };
  if (state.cy && !state.relayout && document.getElementById('graph') && patchGraph(g)) {
    document.getElementById('graph').setAttribute('aria-label', 'flow graph: ' + g.nodes.length + ' nodes, ' + g.edges.length + ' flows');
    document.getElementById('groups-list').replaceChildren(groupsList(g, id, tid));
    state.refilter();
    status();
    return;
  }
  const model = h('select', { id: 'model' }, ['haircut', 'fifo'].map((m) => h('option', { value: m }, m)));
  const assets = Object.keys(g.assets);
  const asset = h('select', { id: 'asset' }, h('option', { value: '' }, 'all assets'), assets.map((a) => h('option', { value: a }, assetInfo(g, a).symbol)));
  const minAmt = h('input', { id: 'min-amount', size: 10, placeholder: '0', inputmode: 'decimal' });
  const from = h('input', { id: 'from', type: 'date' });
  const until = h('input', { id: 'until', type: 'date' });
  const victim = h('select', { id: 'victim' }, h('option', { value: '' }, 'no victim highlighted'), g.victims.map((v) => h('option', { value: v, selected: v === state.victim }, v)));
  victim.addEventListener('change', () => { state.victim = victim.value; drawTrace(id, tid); });
  const refilter = () => filterGraph(model.value, asset.value, minAmt.value, from.value, until.value);
  state.refilter = refilter;
  for (const el of [model, asset, minAmt, from, until]) el.addEventListener('change', refilter);
  const collapse = h('button', { id: 'collapse', onclick: () => { state.expand = []; state.explored = []; state.relayout = true; drawTrace(id, tid); } }, 'Collapse all');
  view.replaceChildren(
    h('h2', {}, 'Flow graph (' + tid + ')'),
    h('div', { class: 'panel row' }, h('label', { for: 'model' }, 'Model', model), h('label', { for: 'asset' }, 'Asset', asset), h('label', { for: 'min-amount' }, 'Least amount', minAmt),
      h('label', { for: 'from' }, 'From', from), h('label', { for: 'until' }, 'Until', until), h('label', { for: 'victim' }, 'Highlight a victim', victim), collapse),
    h('p', { class: 'legend' }, ['victim', 'cluster', 'peel', 'service', 'exchange', 'address'].map((k) => h('span', {}, h('i', { class: 'k-' + k }), k)),
      h('span', { class: 'muted' }, 'Click a group to expand it; an address or flow to note it; an address to follow its next hop.')),
    hopForm(id, tid),
    h('div', { id: 'graph', role: 'img', 'aria-label': 'flow graph: ' + g.nodes.length + ' nodes, ' + g.edges.length + ' flows' }),
    h('p', { id: 'graph-status', class: 'muted', role: 'status' }),
    h('div', { id: 'groups-list' }, groupsList(g, id, tid)),
    h('h2', {}, 'Deposits per exchange'), depositsTable(g),
    h('h2', {}, 'Timeline'), timeline(g));
  renderGraph(g, id, tid);
  refilter();
  status();
}

// hopForm follows an address's next hop beyond the trace, from the chain
// itself (the explore API): what spent its outputs (Bitcoin) or where it
// sent money (Ethereum, TRON), drawn dashed beside the trace's flows.
function hopForm(id, tid) {
  const addr = h('input', { id: 'hop-address', size: 46, placeholder: 'an address of the graph' });
  const msg = h('span', { role: 'status', id: 'hop-status', class: 'muted' });
  return h('form', { id: 'hop-form', class: 'row', onsubmit: async (ev) => {
    ev.preventDefault();
    const a = addr.value.trim();
    const n = state.graph.nodes.find((x) => x.address === a);
    const chain = (n && n.chain) || (a.startsWith('0x') ? 'eth' : a.startsWith('T') ? 'tron' : 'btc');
    try { msg.textContent = await nextHop(chain, a); } catch (e) { msg.textContent = e.message; }
  } }, h('label', { for: 'hop-address' }, 'Next hop from ', addr), h('button', { type: 'submit' }, 'Next hop'), msg);
}

// nextHop adds the next hop from address a to the graph (at most 12
// transactions or 24 transfers) and says what it found.
async function nextHop(chain, a) {
  const cy = state.cy;
  const from = cy.getElementById('address:' + a).nonempty() ? 'address:' + a : 'hop:' + a;
  const r = await api('GET', '/v1/' + chain + '/addresses/' + encodeURIComponent(a) + '?limit=1000');
  const targets = new Map(); // address → base units
  let txs = 0;
  if (r.utxo) {
    const spenders = [...new Set(r.utxo.history.filter((e) => e.spent_by).map((e) => e.spent_by.tx_hash))].slice(0, 12);
    for (const hash of spenders) {
      const tx = await api('GET', '/v1/btc/txs/' + encodeURIComponent(hash));
      txs++;
      for (const o of tx.outputs) for (const x of o.addresses) if (x !== a) targets.set(x, (targets.get(x) || 0n) + BigInt(o.value));
    }
  } else if (r.account) {
    for (const t of r.account.transfers.filter((t) => t.from === a && t.success).slice(0, 24)) {
      txs++;
      targets.set(t.to, (targets.get(t.to) || 0n) + BigInt(t.amount));
    }
  }
  if (!cy.getElementById(from).nonempty()) {
    cy.add({ group: 'nodes', data: { id: from, label: short(a), kind: 'address', members: 1, colour: '#ffffff', hi: 0 }, classes: 'explored', position: { x: 0, y: 0 } });
  }
  const base = cy.getElementById(from).position();
  let k = 0;
  const add = [];
  for (const [x, v] of targets) {
    const nid = cy.getElementById('address:' + x).nonempty() ? 'address:' + x : 'hop:' + x;
    if (!cy.getElementById(nid).nonempty()) {
      add.push({ group: 'nodes', data: { id: nid, label: short(x), kind: 'address', members: 1, colour: '#ffffff', hi: 0, address: x, chain }, classes: 'explored',
        position: { x: base.x + 120, y: base.y + 24 * (k++ - targets.size / 2) } });
    }
    const eid = 'hop:' + from + '→' + nid;
    if (!cy.getElementById(eid).nonempty()) add.push({ group: 'edges', data: { id: eid, source: from, target: nid, width: 1.5, hi: 0, amount: v.toString() }, classes: 'explored' });
  }
  cy.add(add);
  state.explored = state.explored.concat(add.map((e) => Object.assign({}, e, { position: e.position && Object.assign({}, e.position) })));
  return targets.size + ' addresses next, from ' + txs + (r.utxo ? ' spending transactions' : ' transfers') + ' (dashed: from the chain, not the trace)';
}

// readdExplored puts the next hops followed back into a graph drawn
// anew: their nodes, then the edges whose two ends are there.
function readdExplored(cy) {
  for (const e of state.explored) if (e.group === 'nodes' && !cy.getElementById(e.data.id).nonempty()) cy.add(e);
  for (const e of state.explored) {
    if (e.group === 'edges' && !cy.getElementById(e.data.id).nonempty() && cy.getElementById(e.data.source).nonempty() && cy.getElementById(e.data.target).nonempty()) cy.add(e);
  }
}

// groupsList lists the graph's groups with a button each to expand it
// (the keyboard's way to what a click on the node does).
function groupsList(g, id, tid) {
  const groups = g.nodes.filter((n) => n.members > 1);
  if (!groups.length) return h('span', {});
  return h('details', { open: state.groupsOpen, ontoggle: (ev) => { state.groupsOpen = ev.target.open; } }, h('summary', {}, 'Groups (' + groups.length + ')'),
    h('ul', { id: 'groups' }, groups.map((n) => h('li', {}, n.label + ' — ' + n.members + ' addresses ',
      h('button', { class: 'expand', 'data-id': n.id, onclick: () => { state.expand.push(n.id); drawTrace(id, tid); } }, 'Expand')))));
}

const colours = { victim: '#b3261e', exchange: '#1b6e20', cluster: '#6a3d9a', service: '#b15928', peel: '#1f78b4', address: '#555555' };

// placeNodes positions the nodes of a redrawn graph where the last
// drawing had them, so that expanding a group or highlighting a victim
// moves nothing else (and needs no new layout, which a large graph takes
// seconds for): an expanded group's addresses around where the group was,
// a victim drawn on its own beside the victims' node, anything else new
// beside a placed neighbour. It returns null when nothing was placed
// before.
function placeNodes(g, prev) {
  if (!prev) return null;
  const pos = {};
  const ring = {};
  for (const n of g.nodes) {
    if (prev[n.id]) { pos[n.id] = prev[n.id]; continue; }
    const centre = prev[n.group] || (n.kind === 'victim' && prev.victims);
    if (centre) {
      const k = ring[n.group || 'victims'] = (ring[n.group || 'victims'] || 0) + 1;
      const r = 30 + 6 * Math.sqrt(k);
      const a = k * 2.4;
      pos[n.id] = { x: centre.x + r * Math.cos(a), y: centre.y + r * Math.sin(a) };
    }
  }
  for (let pass = 0; pass < 3; pass++) {
    for (const e of g.edges) {
      if (pos[e.source] && !pos[e.target]) pos[e.target] = { x: pos[e.source].x + 80, y: pos[e.source].y + 20 * ((pass % 2) ? 1 : -1) };
      if (pos[e.target] && !pos[e.source]) pos[e.source] = { x: pos[e.target].x - 80, y: pos[e.target].y };
    }
  }
  for (const n of g.nodes) if (!pos[n.id]) return null; // something stands apart: lay out again
  return pos;
}

// elements are the graph's nodes (first) and edges as Cytoscape takes
// them.
function elements(g) {
  const hiN = new Set(g.highlight ? g.highlight.nodes : []);
  const hiE = new Set(g.highlight ? g.highlight.edges : []);
  const els = [];
  for (const n of g.nodes) {
    els.push({ data: { id: n.id, label: n.kind === 'address' ? short(n.label) : n.label + (n.members > 1 ? ' (' + n.members + ')' : ''), kind: n.kind, members: n.members,
      colour: colours[n.kind] || '#555', hi: hiN.has(n.id) ? 1 : 0 } });
  }
  for (const e of g.edges) {
    els.push({ data: { id: e.id, source: e.source, target: e.target, asset: e.asset, haircut: e.haircut, fifo: e.fifo, first: e.first, last: e.last,
      width: 1 + 9 * Math.sqrt(e.weight), hi: hiE.has(e.id) ? 1 : 0 } });
  }
  return els;
}

// patchGraph changes the drawn graph into g in place: elements gone are
// removed, new ones added where placeNodes puts them, the others given
// their new data (a highlight, a width). False when it cannot (a node it
// cannot place): the graph is then drawn anew.
function patchGraph(g) {
  const cy = state.cy;
  const prev = {};
  cy.nodes().forEach((n) => { prev[n.id()] = Object.assign({}, n.position()); });
  const placed = placeNodes(g, prev);
  if (!placed) return false;
  const els = elements(g);
  const want = new Set(els.map((e) => e.data.id));
  cy.batch(() => {
    cy.elements().filter((e) => !want.has(e.id()) && !e.hasClass('explored')).remove();
    const add = [];
    for (const el of els) {
      const ex = cy.getElementById(el.data.id);
      if (ex.nonempty()) ex.data(el.data);
      else {
        if (!el.data.source) el.position = placed[el.data.id];
        add.push(el);
      }
    }
    cy.add(add);
  });
  return true;
}

function renderGraph(g, id, tid) {
  let prev = null;
  if (state.cy && !state.relayout) {
    prev = {};
    state.cy.nodes().forEach((n) => { prev[n.id()] = Object.assign({}, n.position()); });
  }
  state.relayout = false;
  const placed = placeNodes(g, prev);
  if (state.cy) state.cy.destroy();
  if (window.cytoscapeDagre && !renderGraph.used) { cytoscape.use(window.cytoscapeDagre); renderGraph.used = true; }
  const els = elements(g);
  const cy = cytoscape({
    container: document.getElementById('graph'), elements: els, wheelSensitivity: 0.3,
    style: [
      { selector: 'node', style: { 'background-color': 'data(colour)', label: 'data(label)', 'font-size': 10, color: '#1b1f24', 'text-valign': 'bottom', 'text-margin-y': 3,
        width: 18, height: 18, 'text-wrap': 'ellipsis', 'text-max-width': 140 } },
      { selector: 'node[members > 1]', style: { shape: 'round-rectangle', width: 26, height: 26 } },
      { selector: 'edge', style: { width: 'data(width)', 'line-color': '#8c96a3', 'target-arrow-color': '#8c96a3', 'target-arrow-shape': 'triangle', 'curve-style': 'bezier', opacity: 0.85 } },
      { selector: 'node[hi = 1]', style: { 'border-width': 3, 'border-color': '#ffbf00' } },
      { selector: 'edge[hi = 1]', style: { 'line-color': '#d97706', 'target-arrow-color': '#d97706', opacity: 1, 'z-index': 10 } },
      { selector: '.hidden', style: { display: 'none' } },
      { selector: 'node.explored', style: { 'background-color': '#ffffff', 'border-width': 2, 'border-color': '#555555', 'border-style': 'dashed' } },
      { selector: 'edge.explored', style: { 'line-style': 'dashed', 'line-color': '#6b7280', 'target-arrow-color': '#6b7280' } },
    ],
    layout: placed ? { name: 'preset', positions: (n) => placed[n.id()], fit: false } :
      { name: window.cytoscapeDagre ? 'dagre' : 'breadthfirst', rankDir: 'LR', nodeSep: 14, rankSep: 70, animate: false },
  });
  if (placed && prev) { cy.zoom(state.zoom); cy.pan(state.pan); }
  readdExplored(cy);
  cy.on('viewport', () => { state.zoom = cy.zoom(); state.pan = Object.assign({}, cy.pan()); });
  state.zoom = cy.zoom();
  state.pan = Object.assign({}, cy.pan());
  cy.on('tap', 'node', (ev) => {
    const d = ev.target.data();
    if (d.members > 1) { state.expand.push(d.id); drawTrace(id, tid); return; }
    const n = g.nodes.find((x) => x.id === d.id) || (d.address && { address: d.address, chain: d.chain });
    if (n && n.address) {
      notePrefill({ kind: 'address', chain: n.chain || 'btc', ref: n.address });
      const hop = document.getElementById('hop-address');
      if (hop) hop.value = n.address;
    }
  });
  cy.on('tap', 'edge', (ev) => {
    const d = ev.target.data();
    const s = g.nodes.find((x) => x.id === d.source);
    const t = g.nodes.find((x) => x.id === d.target);
    notePrefill({ kind: 'edge', chain: (t && t.chain) || 'btc', ref: (s ? s.address || s.label : d.source) + '→' + (t ? t.address || t.label : d.target) });
  });
  state.cy = cy;
}

function short(a) { return a.length > 16 ? a.slice(0, 8) + '…' + a.slice(-6) : a; }

function notePrefill(target) {
  const f = document.getElementById('note-form');
  if (!f) return;
  document.getElementById('note-kind').value = target.kind;
  document.getElementById('note-chain').value = target.chain;
  document.getElementById('note-ref').value = target.ref;
  document.getElementById('note-text').focus();
}

// filterGraph hides the flows the filters leave out (and nodes left with
// none): by model (a flow carrying nothing under it), asset, least amount
// (in the asset's units) and time.
function filterGraph(model, asset, minAmount, from, until) {
  const cy = state.cy;
  const g = state.graph;
  if (!cy || !g) return;
  const touched = new Set();
  cy.batch(() => {
    cy.edges().forEach((e) => {
      let keep = true;
      if (!e.hasClass('explored')) {
        const d = e.data();
        const amt = d[model] || '0';
        keep = amt !== '0';
        if (asset && d.asset !== asset) keep = false;
        if (keep && minAmount) keep = Number(units(amt, assetInfo(g, d.asset).decimals)) >= Number(minAmount);
        if (from && d.last.slice(0, 10) < from) keep = false;
        if (until && d.first.slice(0, 10) > until) keep = false;
        e.toggleClass('hidden', !keep);
      }
      if (keep) { touched.add(e.data('source')); touched.add(e.data('target')); }
    });
    cy.nodes().forEach((n) => n.toggleClass('hidden', !touched.has(n.id()) && n.data('kind') !== 'victim' && !n.hasClass('explored')));
  });
}

function depositsTable(g) {
  const rows = [];
  for (const x of g.exchanges) {
    const totals = {};
    for (const a of x.deposit_addresses) {
      for (const [asset, byModel] of Object.entries(a.totals || {})) {
        totals[asset] = totals[asset] || {};
        for (const [m, v] of Object.entries(byModel)) totals[asset][m] = (BigInt(totals[asset][m] || '0') + BigInt(v)).toString();
      }
    }
    for (const [asset, byModel] of Object.entries(totals)) {
      const ai = assetInfo(g, asset);
      rows.push(h('tr', {}, h('td', {}, x.exchange), h('td', { class: 'num' }, x.deposit_addresses.length), h('td', { class: 'num' }, x.deposits), h('td', {}, ai.symbol),
        h('td', { class: 'num' }, units(byModel.haircut, ai.decimals)), h('td', { class: 'num' }, units(byModel.fifo, ai.decimals)), h('td', {}, x.first_seen + ' – ' + x.last_seen)));
    }
  }
  return rows.length ? h('table', { id: 'deposits' }, h('tr', {}, h('th', {}, 'Exchange'), h('th', { class: 'num' }, 'Addresses'), h('th', { class: 'num' }, 'Deposits'), h('th', {}, 'Asset'),
    h('th', { class: 'num' }, 'Haircut'), h('th', { class: 'num' }, 'FIFO'), h('th', {}, 'First – last')), rows) : h('p', {}, 'No money reached an exchange.');
}

function timeline(g) {
  if (!g.timeline.length) return h('p', { class: 'muted' }, 'Nothing moved.');
  const most = Math.max(...g.timeline.map((d) => Math.max(d.flows, d.deposits)));
  const bars = (key, cls) => h('div', { class: 'bars ' + cls, role: 'img', 'aria-label': key + ' per day' }, g.timeline.map((d) => {
    const b = h('div', { title: d.day + ': ' + d[key] + ' ' + key });
    b.style.height = (d[key] ? Math.max(2, Math.round(100 * d[key] / most)) : 0) + '%';
    return b;
  }));
  const sum = (key) => g.timeline.reduce((s, d) => s + d[key], 0);
  return h('div', { id: 'timeline' }, h('p', {}, 'Flows per day'), bars('flows', 'flows'), h('p', {}, 'Deposits per day'), bars('deposits', 'deposits'),
    h('p', { class: 'muted' }, g.timeline[0].day + ' – ' + g.timeline[g.timeline.length - 1].day + ': ' + sum('flows') + ' flows, ' + sum('deposits') + ' deposits'));
}

// ---- start ----

document.addEventListener('DOMContentLoaded', async () => {
  document.getElementById('search').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const q = document.getElementById('q').value.trim();
    if (q) location.hash = '#/search/' + encodeURIComponent(q);
  });
  document.getElementById('signout').addEventListener('click', async () => {
    try { await api('DELETE', '/v1/session'); } catch (e) { /* signed out either way */ }
    signedOut();
  });
  document.addEventListener('keydown', (ev) => {
    if (ev.key === '/' && !['INPUT', 'TEXTAREA', 'SELECT'].includes(document.activeElement.tagName)) { ev.preventDefault(); document.getElementById('q').focus(); }
  });
  window.addEventListener('hashchange', route);
  try { signedIn(await api('GET', '/v1/session')); } catch (e) { signedOut(); }
});
