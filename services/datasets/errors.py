"""How loading a dataset in a worker fails: reported as the job's error, with its own type."""

from services.jobs.runner import JobError


class DatasetUnavailable(JobError):
    """The dataset cannot be had here: the hub is unreachable, or the `datasets` package is not installed."""

    error_type = "dataset_unavailable"


class DatasetInvalid(JobError):
    """The dataset can be reached but not used: a missing column or split, an unreadable image, a changed folder."""

    error_type = "dataset_invalid"
