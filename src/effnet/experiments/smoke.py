"""The smoke-scale proxy `make demo`'s study runs with (and the benchmarks that measure on it): small enough for
about ten minutes with two workers on a 2-core CPU, never a result -- it shows the method end to end."""

from __future__ import annotations

from ..architecture.scaling import scale_spec
from ..architecture.spec import NetSpec
from ..architecture.zoo import get_spec
from .trial import ProxySchedule

# The small-image B0 at 20 px, one epoch on 3,000 Fashion-MNIST training images, chosen on 1,000 held-out
# validation images at four points of the schedule, scored once on 2,000 test images; two seeds so that the report
# can show paired intervals. A high learning rate and a short warm-up, as 94 steps leave no room for either.
SMOKE = {"resolution": 20, "epochs": 1, "limit_train": 3000, "limit_val": 1000, "limit_test": 2000, "seeds": 2,
         "batch_size": 32, "overrides": ("lr=0.02", "warmup_epochs=0.2")}


def smoke_proxy(data_dir: str | None = None, limit: int | None = None) -> ProxySchedule:
    """The smoke-scale proxy schedule on real Fashion-MNIST (`limit`: at most that many images of each split, for
    quick checks of what uses it)."""
    def cut(count: int) -> int:
        return count if limit is None else min(count, limit)

    return ProxySchedule(data="fashion-mnist", data_dir=data_dir, recipe="proxy", overrides=SMOKE["overrides"],
                         epochs=SMOKE["epochs"], batch_size=SMOKE["batch_size"], limit_train=cut(SMOKE["limit_train"]),
                         limit_val=cut(SMOKE["limit_val"]), limit_test=cut(SMOKE["limit_test"]),
                         resolution=SMOKE["resolution"])


def smoke_baseline(width: float = 1.0, name: str = "efficientnet-b0-small") -> NetSpec:
    """The smoke study's baseline at its resolution (narrower with `width`, for quick checks of the benchmarks)."""
    spec = get_spec(name).replace(resolution=SMOKE["resolution"])
    return spec if width == 1.0 else scale_spec(spec, width=width).replace(name=f"{spec.name}-w{width:g}")


__all__ = ["SMOKE", "smoke_baseline", "smoke_proxy"]
