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
