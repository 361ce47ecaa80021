// crosscam control room: plain browser JavaScript, no build step and no CDN (the box is offline).
'use strict';

const token = new URLSearchParams(location.search).get('token');
const withToken = (url) => (token ? `${url}${url.includes('?') ? '&' : '?'}token=${encodeURIComponent(token)}` : url);
const api = async (url, init) => {
  const response = await fetch(withToken(url), init);
  return response.json();
};
const $ = (selector) => document.querySelector(selector);
const el = (tag, attributes = {}, ...children) => {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes)) {
    if (key === 'onclick') node.addEventListener('click', value);
    else node.setAttribute(key, value);
  }
  for (const child of children) node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  return node;
};
const time = (iso) => (iso ? new Date(iso).toLocaleTimeString() : '–');

const MAX_MATCH_CARDS = 30;
const cameraNames = new Map();

function cameraCard(camera) {
  return el(
    'div',
    { class: 'card camera', 'data-camera': camera.camera },
    el('div', {}, el('strong', {}, camera.name || camera.camera), ' ', el('span', { class: `badge state-${camera.state}` }, camera.state)),
    el('img', { src: withToken(`${camera.snapshot_url}?t=${Date.now()}`), alt: `live view of ${camera.camera}` }),
    el('div', {}, `${camera.fps.toFixed(1)} fps · ${camera.processed_frames} frames · reconnects ${camera.reconnects}`),
    camera.last_error ? el('div', { class: 'low' }, camera.last_error) : '',
  );
}

async function refreshCameras() {
  const { cameras } = await api('/api/cameras');
  const list = $('#cameras');
  list.replaceChildren(...cameras.map((camera) => {
    cameraNames.set(camera.camera, camera.name || camera.camera);
    return cameraCard(camera);
  }));
}

function side(title, ref) {
  if (!ref) return el('div', { class: 'side' }, el('div', { class: 'empty' }, 'watch list'));
  const image = ref.snapshot ? el('img', { src: withToken(ref.snapshot.crop_url), alt: `${ref.camera} #${ref.track_id}` }) : el('div', { class: 'empty' }, 'no snapshot');
  return el('div', { class: 'side' }, image, el('div', {}, `${title}: ${cameraNames.get(ref.camera) || ref.camera} #${ref.track_id}`), el('div', {}, time(ref.last_seen)));
}

function matchCard(match) {
  const confidence = match.confidence === null ? '–' : match.confidence.toFixed(2);
  return el(
    'div',
    { class: 'card match', 'data-event': match.event_id },
    side('earlier', match.matched),
    side('now', match.sighting),
    el(
      'div',
      { class: 'figures' },
      el('span', { class: 'link', onclick: () => showIdentity(match.identity) }, match.watchlist_label ? `${match.identity} (${match.watchlist_label})` : match.identity),
      el('span', {}, `similarity ${match.similarity.toFixed(3)}`),
      el('span', { class: match.low_confidence ? 'low' : '' }, `confidence ${confidence}${match.low_confidence ? ' (low)' : ''}`),
    ),
  );
}

function addMatch(match, atTop) {
  const list = $('#matches');
  list.querySelector('.empty')?.remove();
  if (list.querySelector(`[data-event="${CSS.escape(match.event_id)}"]`)) return;
  const card = matchCard(match);
  if (atTop) list.prepend(card);
  else list.append(card);
  while (list.children.length > MAX_MATCH_CARDS) list.lastElementChild.remove();
}

async function refreshFlow() {
  const { pairs } = await api('/api/flow?minutes=60');
  $('#flow tbody').replaceChildren(
    ...(pairs.length === 0 ? [el('tr', {}, el('td', { colspan: 3, class: 'empty' }, 'no cross-camera match in the last hour'))] : pairs.map((pair) => el('tr', {}, el('td', {}, pair.from), el('td', {}, pair.to), el('td', {}, pair.count)))),
  );
}

async function refreshStatus() {
  const stats = await api('/api/stats');
  const ready = stats.readiness.modelsLoaded && stats.readiness.camerasOnline > 0;
  const badge = $('#readiness');
  badge.textContent = ready ? `ready · ${stats.readiness.camerasOnline} cameras online` : 'not ready';
  badge.className = `badge ${ready ? 'ready' : 'not-ready'}`;
  $('#gallery-stats').textContent = `${stats.gallery.identities} identities · ${stats.gallery.sightings} sightings · MQTT ${stats.readiness.mqttConnected ? 'connected' : 'disconnected'}`;
}

async function showIdentity(id) {
  const identity = await api(`/api/identities/${encodeURIComponent(id)}`);
  const box = $('#timeline');
  if (identity.error) {
    box.replaceChildren(el('p', { class: 'empty' }, identity.message));
    return;
  }
  box.replaceChildren(
    el('p', {}, el('strong', {}, identity.identity), identity.label ? ` (${identity.label})` : '', ` · ${identity.sightings} sightings`),
    ...identity.timeline.map((sighting) =>
      el(
        'div',
        { class: 'timeline-item' },
        sighting.snapshot ? el('img', { src: withToken(sighting.snapshot.crop_url), alt: '' }) : '',
        el('span', {}, `${time(sighting.first_seen)} – ${time(sighting.last_seen)} · ${cameraNames.get(sighting.camera) || sighting.camera} #${sighting.track_id} · ${sighting.outcome}`),
      ),
    ),
  );
}

$('#search').addEventListener('submit', async (event) => {
  event.preventDefault();
  const file = $('#search-file').files[0];
  if (!file) return;
  const image = await new Promise((resolve) => {
    const reader = new FileReader();
    reader.onload = () => resolve(String(reader.result).split(',')[1]);
    reader.readAsDataURL(file);
  });
  const response = await api('/api/request/search', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ image }) });
  const results = $('#search-results');
  if (!response.ok) {
    results.replaceChildren(el('p', { class: 'low' }, response.error.message));
    return;
  }
  results.replaceChildren(
    ...(response.result.hits.length === 0 ? [el('p', { class: 'empty' }, 'no identity of that class yet')] : response.result.hits.map((hit) => el('div', {}, el('span', { class: 'link', onclick: () => showIdentity(hit.identity) }, hit.identity), ` similarity ${hit.similarity.toFixed(3)}, last seen ${time(hit.last_seen)}`))),
  );
});

function listen() {
  const events = new EventSource(withToken('/api/events'));
  events.addEventListener('match', (event) => {
    addMatch(JSON.parse(event.data), true);
    void refreshFlow();
  });
  events.addEventListener('camera', () => void refreshCameras());
}

async function start() {
  await refreshCameras();
  const { matches } = await api('/api/matches?limit=30');
  for (const match of matches) addMatch(match, false);
  await Promise.all([refreshFlow(), refreshStatus()]);
  listen();
  setInterval(() => void refreshCameras(), 5000);
  setInterval(() => void refreshStatus(), 5000);
}

void start();
