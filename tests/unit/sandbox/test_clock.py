"""The sandbox's clock: modelled seconds passing `scale` times faster than wall seconds."""

from __future__ import annotations

import time

import pytest

from sandbox.clock import Clock


def test_a_rescaled_clock_goes_on_from_where_it_was_at_the_new_pace() -> None:
    clock = Clock(scale=0.001)
    time.sleep(0.05)
    before = clock.modelled_now()

    assert clock.rescale(0.01) == 0.001
    after = clock.modelled_now()
    time.sleep(0.05)

    assert before >= 49  # 0.05 s at 0.001: about 50 modelled seconds
    assert after >= before  # modelled time never runs backwards
    assert 4 <= clock.modelled_now() - after <= 15  # 0.05 s at 0.01: about 5 modelled seconds
    assert clock.wall(100) == pytest.approx(1.0)


def test_a_scale_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        Clock(scale=0.01).rescale(0)
