"""The limits every dataset source is checked against, and the error for an upload over the byte limit."""

from dataclasses import dataclass

from services.errors import ServiceError
from services.settings import Settings


class UploadTooLarge(ServiceError):
    status_code = 413
    error_type = "too_large"


@dataclass(frozen=True)
class DatasetLimits:
    max_upload_bytes: int = 200 * 1024 * 1024
    max_archive_entries: int = 50_000
    max_image_pixels: int = 4096 * 4096
    max_dataset_images: int = 100_000

    @classmethod
    def of(cls, settings: Settings) -> "DatasetLimits":
        return cls(settings.max_upload_bytes, settings.max_archive_entries, settings.max_image_pixels,
                   settings.max_dataset_images)

    @property
    def max_image_file_bytes(self) -> int:
        """No image within the pixel limit needs a bigger file (uncompressed 16-bit RGBA plus headers)."""
        return self.max_image_pixels * 8 + (1 << 20)
