import pytest

from services.jobs.states import FINAL_STATES, IllegalTransition, JobStatus, check_transition

LEGAL = {
    (JobStatus.QUEUED, JobStatus.RUNNING),
    (JobStatus.QUEUED, JobStatus.CANCELED),
    (JobStatus.QUEUED, JobStatus.FAILED),
    (JobStatus.RUNNING, JobStatus.SUCCEEDED),
    (JobStatus.RUNNING, JobStatus.FAILED),
    (JobStatus.RUNNING, JobStatus.CANCELED),
    (JobStatus.RUNNING, JobStatus.QUEUED),
}


@pytest.mark.parametrize("current", list(JobStatus))
@pytest.mark.parametrize("target", list(JobStatus))
def test_only_the_designed_transitions_are_legal(current: JobStatus, target: JobStatus) -> None:
    if (current, target) in LEGAL:
        check_transition(current, target)
    else:
        with pytest.raises(IllegalTransition):
            check_transition(current, target)


def test_final_states_are_the_three_endings() -> None:
    assert FINAL_STATES == {JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELED}
