// The demo page: sign up / in / out with Better Auth, then the worker's task API,
// cross-origin, with the token from auth.mjs. Plain DOM, no framework.
//
// After any failed request the page says what happened in plain words and re-reads
// the list from the server, so what it shows is never a guess.

import { authClient, createApiFetch, createTokenSource, SignedOutError } from './auth.mjs';

const $ = (id) => document.getElementById(id);
const apiBase = document.querySelector('meta[name="task-api"]').content;

// For the browser test: how many tokens this page has fetched (a number, never a token).
window.demoStats = { tokensFetched: 0 };
const tokens = createTokenSource({ onFetch: () => (window.demoStats.tokensFetched += 1) });
const apiFetch = createApiFetch({ apiBase, tokens });

let tasks = []; // what the list shows, in order
let nextPage = null; // the Link rel="next" target, or null
let editing = null; // id of the task whose edit form is open

// ---------------------------------------------------------------- messages

/** `kind`: 'error' (role=alert, read out at once) or 'info' (polite status). */
function say(text, kind = 'info') {
  $('message-error').textContent = kind === 'error' ? text : '';
  $('message-info').textContent = kind === 'info' ? text : '';
}

function seconds(res) {
  const n = Number(res.headers.get('retry-after'));
  return Number.isFinite(n) && n > 0 ? n : null;
}

const FIELD_LABELS = { title: 'Title', description: 'Description', completed: 'Done', body: 'The request' };

/** Plain words for a problem+json answer (`problem` may be null if the body was not JSON). */
function explain(res, problem) {
  const wait = seconds(res);
  switch (res.status) {
    case 400:
      return `The request could not be read by the server${problem?.detail ? `: ${problem.detail}` : '.'}`;
    case 401:
      return 'The task service did not accept your sign-in. Please sign out and sign in again.';
    case 403:
      return 'You are not allowed to do that.';
    case 404:
      return 'That task no longer exists — it may have been deleted in another tab. The list has been refreshed.';
    case 409:
      // The worker's detail says it in plain words, with the limit.
      return problem?.detail ?? 'You cannot add more tasks: you have reached the limit. Delete some first.';
    case 412:
      return 'This task was changed somewhere else after you loaded it. The list now shows the current version; please make your change again.';
    case 413:
      return 'That is too much text to save.';
    case 422: {
      const parts = (problem?.errors ?? []).map((e) => `${FIELD_LABELS[e.field] ?? e.field} ${e.message}`);
      return parts.length ? `Please correct: ${parts.join('; ')}.` : `Please check your input${problem?.detail ? `: ${problem.detail}` : '.'}`;
    }
    case 429:
      return `You are making changes too quickly. Please wait ${wait ?? 'a few'} seconds and try again.`;
    case 503:
      return `The task service is temporarily unavailable. Please try again in ${wait ?? 'a few'} seconds.`;
    default:
      return res.status >= 500
        ? 'Something went wrong on the server. Please try again later.'
        : `The request failed (HTTP ${res.status}).`;
  }
}

/** Marks the fields a 422 names inside `form` (inputs named like the fields). */
function markFields(form, problem) {
  for (const el of form.querySelectorAll('[aria-invalid]')) el.removeAttribute('aria-invalid');
  for (const el of form.querySelectorAll('.field-error')) el.textContent = '';
  for (const { field, message } of problem?.errors ?? []) {
    const input = form.elements.namedItem(field);
    const note = form.querySelector(`.field-error[data-for="${field}"]`);
    if (input) input.setAttribute('aria-invalid', 'true');
    if (note) note.textContent = `${FIELD_LABELS[field] ?? field} ${message}.`;
  }
}

/**
 * One call to the worker. Returns the Response when it is OK; otherwise tells the
 * person, re-reads the list (unless this was the list) and returns null.
 */
async function call(path, init = {}, { form, isList = false } = {}) {
  let res;
  try {
    res = await apiFetch(path, init);
  } catch (err) {
    if (err instanceof SignedOutError) return signedOutElsewhere();
    say('Could not reach the task service. Check your connection and try again.', 'error');
    if (!isList) await loadTasks({ quiet: true });
    return null;
  }
  if (res.ok) {
    if (form) markFields(form, null);
    return res;
  }
  let problem = null;
  try {
    problem = await res.json();
  } catch {
    // not JSON; the status says enough
  }
  say(explain(res, problem), 'error');
  if (form && res.status === 422) markFields(form, problem);
  // The task changed or vanished elsewhere: close its editor so the person sees the
  // server's current version (the message asks them to make their change again).
  if (res.status === 412 || res.status === 404) editing = null;
  if (!isList) await loadTasks({ quiet: true });
  return null;
}

// ---------------------------------------------------------------- signing in and out

function showSignedIn(user) {
  $('signed-out').hidden = true;
  $('signed-in').hidden = false;
  $('who').textContent = user.name ? `${user.name} (${user.email})` : user.email;
}

function showSignedOut() {
  tokens.clear();
  tasks = [];
  nextPage = null;
  editing = null;
  render();
  $('signed-in').hidden = true;
  $('signed-out').hidden = false;
}

function signedOutElsewhere() {
  showSignedOut();
  say('You have been signed out (perhaps in another tab, or your session ended). Please sign in again.', 'error');
  return null;
}

async function authAction(form, action) {
  const button = form.querySelector('button[type="submit"]');
  button.disabled = true;
  try {
    const { data, error } = await action(Object.fromEntries(new FormData(form)));
    if (error) {
      say(authError(error), 'error');
      return;
    }
    form.reset();
    showSignedIn(data.user);
    say(`Signed in as ${data.user.email}.`);
    $('new-title').focus();
    await loadTasks();
  } catch {
    say('Could not reach the sign-in service. Check your connection and try again.', 'error');
  } finally {
    button.disabled = false;
  }
}

function authError(error) {
  if (error.status === 401) return 'That email and password do not match an account.';
  if (error.status === 429) return 'Too many attempts. Please wait a little and try again.';
  return `Could not sign in: ${error.message || `HTTP ${error.status}`}.`;
}

$('sign-in-form').addEventListener('submit', (e) => {
  e.preventDefault();
  authAction(e.target, ({ email, password }) => authClient.signIn.email({ email, password }));
});

$('sign-up-form').addEventListener('submit', (e) => {
  e.preventDefault();
  authAction(e.target, ({ name, email, password }) => authClient.signUp.email({ name, email, password }));
});

$('sign-out').addEventListener('click', async () => {
  await authClient.signOut().catch(() => {});
  showSignedOut();
  say('Signed out.');
  $('sign-in-email').focus();
});

// ---------------------------------------------------------------- the list

function listQuery() {
  const form = $('filters');
  const params = new URLSearchParams({
    status: form.elements.status.value,
    sort: form.elements.sort.value,
    order: form.elements.order.value,
    limit: String(Number($('page-size').value) || 10),
  });
  const q = form.elements.q.value.trim();
  if (q) params.set('q', q);
  return `/api/tasks?${params}`;
}

/** The next page's link from a `Link` header (relative to the worker). */
function nextLink(res) {
  const header = res.headers.get('link') ?? '';
  const match = header.match(/<([^>]*)>\s*;\s*rel="?next"?/);
  return match ? match[1] : null;
}

let listRequests = 0; // only the latest list request may draw the list

async function loadTasks({ quiet = false, more = false } = {}) {
  const mine = ++listRequests;
  const res = await call(more ? nextPage : listQuery(), {}, { isList: true });
  // Two quick filter changes send two requests whose answers may arrive out of order.
  if (mine !== listRequests) return true;
  if (!res) {
    $('list-status').textContent = 'The list could not be loaded.';
    return false;
  }
  const page = await res.json();
  if (mine !== listRequests) return true;
  tasks = more ? tasks.concat(page) : page;
  nextPage = nextLink(res);
  render();
  if (!quiet && !more) say(`${tasks.length} task${tasks.length === 1 ? '' : 's'} shown.`);
  return true;
}

/** If-Match for a write, when the task carries a version (the API adds it). */
function conditional(task) {
  return typeof task.version === 'number' ? { 'If-Match': `"${task.version}"` } : {};
}

const JSON_HEADERS = { 'Content-Type': 'application/json' };

function render() {
  const list = $('tasks');
  // Redrawing replaces the buttons: keep keyboard focus on the same action of the
  // same task, or on the list's heading when that task is gone.
  const focused = list.contains(document.activeElement) ? document.activeElement : null;
  const focusedTask = focused?.closest('li')?.dataset.id;
  const focusedAction = focused?.dataset.action ?? 'edit'; // inside an edit form: its Edit button
  list.replaceChildren(...tasks.map(renderTask));
  if (focused && editing === null) {
    const again = list.querySelector(`li[data-id="${focusedTask}"] [data-action="${focusedAction}"]`);
    (again ?? $('tasks-heading')).focus();
  }
  $('load-more').hidden = !nextPage;
  $('list-status').textContent = tasks.length
    ? `${tasks.length} task${tasks.length === 1 ? '' : 's'} shown${nextPage ? '; more to load' : ''}.`
    : 'No tasks match.';
}

function button(action, text, label, onClick) {
  const b = document.createElement('button');
  b.type = 'button';
  b.dataset.action = action;
  b.textContent = text;
  if (label) b.setAttribute('aria-label', label);
  b.addEventListener('click', onClick);
  return b;
}

function renderTask(task) {
  const li = document.createElement('li');
  li.dataset.id = String(task.id);
  if (editing === task.id) {
    li.append(editForm(task));
    return li;
  }
  const title = document.createElement('span');
  title.className = 'title';
  title.textContent = task.title;
  const state = document.createElement('span');
  state.className = 'state';
  state.textContent = task.completed ? ' (done)' : ' (to do)';
  li.append(title, state);
  if (task.description) {
    const p = document.createElement('p');
    p.textContent = task.description;
    li.append(p);
  }
  if (task.completed) li.classList.add('done');
  const actions = document.createElement('div');
  actions.className = 'actions';
  actions.append(
    button('toggle', task.completed ? 'Mark as to do' : 'Mark as done', `${task.completed ? 'Mark as to do' : 'Mark as done'}: ${task.title}`, () => toggle(task)),
    button('edit', 'Edit', `Edit: ${task.title}`, () => {
      editing = task.id;
      render();
      $(`edit-title-${task.id}`).focus();
    }),
    button('delete', 'Delete', `Delete: ${task.title}`, () => remove(task)),
  );
  li.append(actions);
  return li;
}

function editForm(task) {
  const form = document.createElement('form');
  form.noValidate = true;
  form.setAttribute('aria-label', `Edit task: ${task.title}`);
  const id = task.id;
  form.innerHTML = `
    <label for="edit-title-${id}">Title</label>
    <input id="edit-title-${id}" name="title" maxlength="400" aria-describedby="edit-title-error-${id}">
    <span class="field-error" id="edit-title-error-${id}" data-for="title"></span>
    <label for="edit-description-${id}">Description</label>
    <textarea id="edit-description-${id}" name="description" rows="2" aria-describedby="edit-description-error-${id}"></textarea>
    <span class="field-error" id="edit-description-error-${id}" data-for="description"></span>
    <button type="submit">Save</button>
    <button type="button" class="cancel">Cancel</button>`;
  form.elements.title.value = task.title;
  form.elements.description.value = task.description ?? '';
  form.querySelector('.cancel').addEventListener('click', () => {
    editing = null;
    render();
  });
  form.addEventListener('keydown', (e) => {
    if (e.key === 'Escape') {
      editing = null;
      render();
    }
  });
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const description = form.elements.description.value;
    const body = JSON.stringify({ title: form.elements.title.value, description: description === '' ? null : description });
    const res = await call(`/api/tasks/${id}`, { method: 'PATCH', headers: { ...JSON_HEADERS, ...conditional(task) }, body }, { form });
    if (!res) return;
    editing = null;
    const saved = await res.json();
    // Announced once the list shows it.
    if (await loadTasks({ quiet: true })) say(`Saved “${saved.title}”.`);
  });
  return form;
}

async function toggle(task) {
  const body = JSON.stringify({ completed: !task.completed });
  const res = await call(`/api/tasks/${task.id}/complete`, { method: 'PATCH', headers: { ...JSON_HEADERS, ...conditional(task) }, body });
  if (!res) return;
  const updated = await res.json();
  if (await loadTasks({ quiet: true })) say(`“${updated.title}” is now ${updated.completed ? 'done' : 'to do'}.`);
}

async function remove(task) {
  const res = await call(`/api/tasks/${task.id}`, { method: 'DELETE', headers: conditional(task) });
  if (!res) return;
  if (await loadTasks({ quiet: true })) say(`Deleted “${task.title}”.`);
}

$('new-task').addEventListener('submit', async (e) => {
  e.preventDefault();
  const form = e.target;
  const description = form.elements.description.value;
  const body = JSON.stringify({ title: form.elements.title.value, description: description === '' ? null : description });
  const res = await call('/api/tasks', { method: 'POST', headers: JSON_HEADERS, body }, { form });
  if (!res) return;
  const created = await res.json();
  form.reset();
  $('new-title').focus();
  if (await loadTasks({ quiet: true })) say(`Added “${created.title}”.`);
});

$('filters').addEventListener('submit', (e) => {
  e.preventDefault();
  loadTasks();
});
for (const name of ['status', 'sort', 'order']) {
  $('filters').elements[name].addEventListener('change', () => loadTasks());
}
$('load-more').addEventListener('click', () => loadTasks({ more: true }));

// ---------------------------------------------------------------- start

(async () => {
  try {
    const { data } = await authClient.getSession();
    if (data?.user) {
      showSignedIn(data.user);
      await loadTasks();
      return;
    }
  } catch {
    // not signed in, or the auth service is unreachable: offer to sign in
  }
  showSignedOut();
})();
