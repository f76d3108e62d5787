// The labelling page's keyboard map, as a pure function so it can be tested on its own.

/**
 * What a key press means on the labelling page, or null.
 *
 * 1–9 choose label 1–9 (single-label: answer; multi-label: toggle), Enter accepts the
 * suggestion (multi-label: submits the toggled set), S skips, U or Backspace undoes.
 * Presses with Ctrl, Alt or Meta are left to the browser.
 */
export function keyAction(event, { labelCount, multiLabel }) {
  if (event.ctrlKey || event.metaKey || event.altKey) return null;
  const key = event.key;
  if (/^[1-9]$/.test(key)) {
    const index = Number(key) - 1;
    if (index >= labelCount) return null;
    return { type: multiLabel ? 'toggle' : 'label', index };
  }
  if (key === 'Enter') return { type: multiLabel ? 'submit' : 'accept' };
  if (key === 's' || key === 'S') return { type: 'skip' };
  if (key === 'u' || key === 'U' || key === 'Backspace') return { type: 'undo' };
  return null;
}

/** True when the key press belongs to a form field (typing must not label items). */
export function isTypingTarget(target) {
  if (!target || !target.tagName) return false;
  if (target.isContentEditable) return true;
  return ['INPUT', 'TEXTAREA', 'SELECT'].includes(target.tagName);
}

/** True when Enter or Space on `target` has its own meaning (a focused button or link). */
export function isActivatable(target) {
  return Boolean(target && target.tagName && ['BUTTON', 'A', 'SUMMARY'].includes(target.tagName));
}

/**
 * What a key press means on the span-labelling (NER) page, or null.
 *
 * Arrows move the cursor between tokens (Shift extends the selection), Home/End jump to
 * the first/last token, 1–9 give the selection entity type 1–9, Backspace/Delete remove
 * the span under the cursor, Escape clears the selection. In correction mode Enter submits
 * the sentence; in accept/reject mode A or Enter accepts the proposed entity and X rejects
 * it. M switches mode, S skips, U undoes. Presses with Ctrl, Alt or Meta are left to the
 * browser.
 */
export function nerKeyAction(event, { labelCount, mode }) {
  if (event.ctrlKey || event.metaKey || event.altKey) return null;
  const key = event.key;
  const teach = mode === 'teach';
  if (key === 'ArrowLeft' || key === 'ArrowRight') {
    return { type: 'move', delta: key === 'ArrowLeft' ? -1 : 1, extend: Boolean(event.shiftKey) };
  }
  if (key === 'Home' || key === 'End') {
    return { type: 'jump', to: key === 'Home' ? 'first' : 'last', extend: Boolean(event.shiftKey) };
  }
  if (/^[1-9]$/.test(key)) {
    const index = Number(key) - 1;
    return index < labelCount ? { type: 'label', index } : null;
  }
  if (key === 'Backspace' || key === 'Delete') return { type: 'remove' };
  if (key === 'Escape') return { type: 'clear' };
  if (key === 'Enter') return { type: teach ? 'accept' : 'submit' };
  if (teach && (key === 'a' || key === 'A')) return { type: 'accept' };
  if (teach && (key === 'x' || key === 'X')) return { type: 'reject' };
  if (key === 'm' || key === 'M') return { type: 'mode' };
  if (key === 's' || key === 'S') return { type: 'skip' };
  if (key === 'u' || key === 'U') return { type: 'undo' };
  return null;
}

/**
 * Spans after giving tokens [start, end) the entity type `label`: spans overlapping the
 * selection are replaced by the new one. Spans are {start, end, label}, end exclusive,
 * returned sorted by start.
 */
export function setSpan(spans, start, end, label) {
  const kept = spans.filter((s) => s.end <= start || s.start >= end);
  kept.push({ start, end, label });
  return kept.sort((a, b) => a.start - b.start);
}

/** Spans without the one covering token `index` (unchanged when none does). */
export function removeSpanAt(spans, index) {
  return spans.filter((s) => !(s.start <= index && index < s.end));
}
