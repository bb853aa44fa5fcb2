"""``metrics.csv`` (step,loss,lr): one row per completed optimizer step, across resumes."""

import csv
import os
from pathlib import Path
from types import TracebackType

HEADER = ("step", "loss", "lr")


class MetricsLog:
    """Rewritten on open from the resumed history (rows past the checkpoint are dropped), then appended to."""

    def __init__(self, path: Path, losses: list[float], lrs: list[float]) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_name(f".{self.path.name}.tmp")
        with open(temporary, "w", newline="") as file:
            writer = csv.writer(file)
            writer.writerow(HEADER)
            writer.writerows(_row(step, loss, lr) for step, (loss, lr) in enumerate(zip(losses, lrs), start=1))
        os.replace(temporary, self.path)
        # Buffered: a row costs no system call; flush() at checkpoints makes the file current.
        self._file = open(self.path, "a", newline="")
        self._writer = csv.writer(self._file)

    def append(self, step: int, loss: float, lr: float) -> None:
        self._writer.writerow(_row(step, loss, lr))

    def flush(self) -> None:
        self._file.flush()

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> "MetricsLog":
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        self.close()


def _row(step: int, loss: float, lr: float) -> tuple[int, str, str]:
    return step, repr(float(loss)), repr(float(lr))


def read_metrics(path: Path) -> list[dict[str, float]]:
    """The rows of a metrics file as numbers."""
    with open(path, newline="") as file:
        return [{"step": int(row["step"]), "loss": float(row["loss"]), "lr": float(row["lr"])}
                for row in csv.DictReader(file)]
