"""The loss curve as a PNG, drawn with PIL (the service does not depend on matplotlib)."""

import math
import os
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

WIDTH, HEIGHT = 640, 360
LEFT, RIGHT, TOP, BOTTOM = 64, 16, 28, 36
RAW, SMOOTH, AXES, GRID = (160, 190, 230), (200, 60, 30), (40, 40, 40), (225, 225, 225)


def smoothed(values: list[float], weight: float = 0.9) -> list[float]:
    """Exponential moving average with bias correction, as TensorBoard smooths a curve."""
    result, average = [], 0.0
    for index, value in enumerate(values, start=1):
        average = weight * average + (1 - weight) * value
        result.append(average / (1 - weight ** index))
    return result


def loss_curve(losses: list[float], path: Path, *, first_step: int = 1) -> Path:
    """Draw loss per step (raw and smoothed) with labelled axes, written to ``path`` by one rename."""
    image = Image.new("RGB", (WIDTH, HEIGHT), "white")
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default()
    points = [(first_step + i, loss) for i, loss in enumerate(losses) if math.isfinite(loss)]
    draw.text((LEFT, 8), f"training loss ({len(losses)} steps)", fill=AXES, font=font)
    if points:
        low, high = min(v for _, v in points), max(v for _, v in points)
        high = high if high > low else low + 1e-6
        last = max(points[-1][0], points[0][0] + 1)

        def at(step: float, value: float) -> tuple[float, float]:
            x = LEFT + (step - points[0][0]) / (last - points[0][0]) * (WIDTH - LEFT - RIGHT)
            y = HEIGHT - BOTTOM - (value - low) / (high - low) * (HEIGHT - TOP - BOTTOM)
            return x, y

        for fraction in (0.0, 0.25, 0.5, 0.75, 1.0):
            value = low + fraction * (high - low)
            y = at(points[0][0], value)[1]
            draw.line([(LEFT, y), (WIDTH - RIGHT, y)], fill=GRID)
            draw.text((4, y - 6), f"{value:.4g}", fill=AXES, font=font)
        for step in (points[0][0], (points[0][0] + last) // 2, last):
            x = at(step, low)[0]
            draw.text((x - 10, HEIGHT - BOTTOM + 6), str(step), fill=AXES, font=font)
        steps = [step for step, _ in points]
        for series, colour in (([v for _, v in points], RAW), (smoothed([v for _, v in points]), SMOOTH)):
            line = [at(step, value) for step, value in zip(steps, series)]
            draw.line(line if len(line) > 1 else line * 2, fill=colour, width=2 if colour == SMOOTH else 1)
    draw.line([(LEFT, TOP), (LEFT, HEIGHT - BOTTOM), (WIDTH - RIGHT, HEIGHT - BOTTOM)], fill=AXES, width=1)
    draw.text((WIDTH - RIGHT - 30, HEIGHT - 14), "step", fill=AXES, font=font)
    path = Path(path)
    temporary = path.with_name(f".{path.name}.tmp")
    image.save(temporary, format="PNG")
    os.replace(temporary, path)
    return path
