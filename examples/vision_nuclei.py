"""Region-based active learning on the stardist nuclei image, then export for an annotation tool.

Needs ``pip install 'activelab[vision]'`` and the data-only stardist wheel
(``pip install --no-deps stardist tifffile``). Runs in about a minute on a laptop.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import activelab as al


def main() -> None:
    vision = al.vision
    pool, test = vision.load_nuclei("left"), vision.load_nuclei("right")
    regions = vision.RegionIndex.slic(pool.images, n_segments=1000, compactness=0.05)
    model = vision.PixelForest(n_classes=2, n_estimators=20, random_state=0)
    result = vision.simulate(
        model,
        pool.images,
        pool.masks,
        regions,
        test_images=test.images,
        test_masks=test.masks,
        strategy="top",  # highest mean pixel entropy first
        measure="entropy",
        labelling="full",
        unit="pixels",
        budget=0.02,  # 2 % of the pool's pixels
        batch_size=8,
        initial=5,
        iou_labels=[1],  # nucleus IoU
        random_state=0,
    )
    for step in result.history:
        print(
            f"{100 * step.share_pixels:5.2f} % of pixels, {step.n_clicks:4d} clicks, "
            f"{step.n_regions:3d} regions -> nucleus IoU {step.iou:.3f}"
        )

    # What an annotation tool needs: the mask and probabilities for an image, the
    # regions to propose first, and exports.
    mask, proba = vision.predict_mask(model, test.images[0])  # (H, W) and (H, W, C)
    print(f"mean confidence on the test half: {proba.max(axis=-1).mean():.3f}")
    labels = vision.slic_regions(test.images[0], n_segments=1000, compactness=0.05)
    scores = vision.score_regions(model, test.images[0], labels, "entropy")
    print("regions to propose first:", (-scores).argsort()[:5].tolist())
    folder = Path(tempfile.mkdtemp())
    vision.save_mask_png(mask, folder / "right.png")
    annotations = vision.mask_to_coco(mask, image_id=1)
    height, width = mask.shape
    coco = vision.coco_dataset(
        [{"id": 1, "file_name": "right.png", "width": width, "height": height}],
        annotations,
        pool.class_names,
    )
    (folder / "right.json").write_text(json.dumps(coco))
    print(f"{len(annotations)} nuclei exported to {folder}")


if __name__ == "__main__":
    main()
