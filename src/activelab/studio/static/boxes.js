// Box geometry of the detection page, as pure functions so they can be tested on their own.
// Boxes are {x, y, w, h} in image pixels, (x, y) the top-left corner, always inside the
// image [0, width] × [0, height].

const round2 = (value) => Math.round(value * 100) / 100;
const clamp = (value, low, high) => Math.min(high, Math.max(low, value));

/** The box spanned by two corners (any order), clipped to the image, rounded to 1/100 px. */
export function boxFromCorners(x0, y0, x1, y1, width, height) {
  const left = clamp(Math.min(x0, x1), 0, width);
  const right = clamp(Math.max(x0, x1), 0, width);
  const top = clamp(Math.min(y0, y1), 0, height);
  const bottom = clamp(Math.max(y0, y1), 0, height);
  return { x: round2(left), y: round2(top), w: round2(right - left), h: round2(bottom - top) };
}

/** `box` moved by (dx, dy), kept whole inside the image. */
export function moveBox(box, dx, dy, width, height) {
  return {
    ...box,
    x: round2(clamp(box.x + dx, 0, width - box.w)),
    y: round2(clamp(box.y + dy, 0, height - box.h)),
  };
}

/** `box` with its corner `corner` ('nw', 'ne', 'sw', 'se') dragged to (px, py). */
export function resizeBox(box, corner, px, py, width, height) {
  const fixedX = corner.includes('w') ? box.x + box.w : box.x;
  const fixedY = corner.includes('n') ? box.y + box.h : box.y;
  return { ...box, ...boxFromCorners(fixedX, fixedY, px, py, width, height) };
}

/**
 * What is under the point (px, py): {index, part} with part a corner ('nw', 'ne', 'sw',
 * 'se', within `grip` pixels of it) or 'body', the smallest box first; null for nothing.
 */
export function hitTest(boxes, px, py, grip) {
  let best = null;
  boxes.forEach((box, index) => {
    const corners = {
      nw: [box.x, box.y], ne: [box.x + box.w, box.y],
      sw: [box.x, box.y + box.h], se: [box.x + box.w, box.y + box.h],
    };
    for (const [part, [cx, cy]] of Object.entries(corners)) {
      if (Math.abs(px - cx) <= grip && Math.abs(py - cy) <= grip) {
        const area = -1; // a grip beats any body
        if (!best || area < best.area) best = { index, part, area };
      }
    }
    const inside = px >= box.x && px <= box.x + box.w && py >= box.y && py <= box.y + box.h;
    const area = box.w * box.h;
    if (inside && (!best || area < best.area)) best = { index, part: 'body', area };
  });
  return best ? { index: best.index, part: best.part } : null;
}
