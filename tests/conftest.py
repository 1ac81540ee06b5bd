"""Shared fixtures: the paper's and peer libraries' reference figures (copied from shared/reference)."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from effnet.architecture.profiling import analyze
from effnet.experiments import compare, scaling
from effnet.search import architecture
from postgres import INSTALL_HINT, find_bin_dir, postgres_cluster

REFERENCE = Path(__file__).parent / "reference"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--optuna-version", default=None,
                     help="fail unless this Optuna version is the one imported (the Makefile's oldest-Optuna run)")


@pytest.fixture(scope="session", autouse=True)
def expected_optuna(request: pytest.FixtureRequest) -> None:
    """With --optuna-version, the run proves which Optuna it tested: the one on the path must be that one."""
    wanted = request.config.getoption("--optuna-version")
    if wanted is not None:
        import optuna

        assert optuna.__version__ == wanted, f"testing Optuna {optuna.__version__}, not {wanted}"

# Under pytest-xdist (`make test` runs a worker per core) each worker computes on one thread, so the workers do not
# oversubscribe the cores; a plain `pytest` keeps up to two.
torch.set_num_threads(1 if os.environ.get("PYTEST_XDIST_WORKER") else min(2, torch.get_num_threads()))
# verified ONNX exports are cached for reuse (effnet.deploy.export.cache_folder): in the tests, never in the user's home
os.environ.setdefault("EFFNET_CACHE", tempfile.mkdtemp(prefix="effnet-test-cache-"))


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "real_latency: measure networks' latency for real in studies and searches "
                            "(other tests get a deterministic stand-in)")


def stand_in_latency(spec, num_classes: int = 10, runs: int = 20) -> float:
    """A latency (ms) computed from the spec instead of measured: 0.05 ms plus 1 ms per 10 M multiply-adds."""
    return 0.05 + analyze(spec, num_classes=num_classes).macs / 1e7


@pytest.fixture(autouse=True)
def quick_latency(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Studies and searches record every network's latency on effnet's inference path, and tracing and freezing
    that graph takes seconds per network: in this process, tests get a stand-in, except those marked
    `real_latency` (one end-to-end study) and the unit tests of the measurement itself, so the real path stays
    tested. Worker processes a test spawns measure for real."""
    if request.node.get_closest_marker("real_latency") is not None:
        return
    for module in (scaling, compare, architecture):
        monkeypatch.setattr(module, "spec_latency", stand_in_latency)


@pytest.fixture(scope="session")
def anchors() -> dict:
    return json.loads((REFERENCE / "anchors.json").read_text())


@pytest.fixture(scope="session")
def paper() -> dict:
    return json.loads((REFERENCE / "paper.json").read_text())


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """SQLAlchemy URL of an empty database on a throwaway PostgreSQL server (tests/postgres.py).

    Missing server binaries FAIL the test as root: `make test` installs Debian's `postgresql` when
    run as root (CI is), so their absence there is a broken setup, not an optional feature. Other
    users cannot have it installed by make; they get a skip that names the missing package.
    """
    if find_bin_dir() is None:
        message = (
            "PostgreSQL server binaries (initdb, pg_ctl, postgres, createdb) not found on $PATH "
            f"or in /usr/lib/postgresql/*/bin; install them: {INSTALL_HINT}"
        )
        if os.geteuid() == 0:
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    with postgres_cluster() as url:
        yield url


@pytest.fixture(scope="session")
def fashion_mnist() -> str:
    """Debian's real Fashion-MNIST (`make test` installs dataset-fashion-mnist when root, as CI is): a test that
    needs real data fails as root when it is missing, and is skipped for a user who cannot install it."""
    from effnet.data import DEFAULT_FASHION_DIR

    if not (DEFAULT_FASHION_DIR / "train-labels-idx1-ubyte.gz").exists():
        message = (f"real Fashion-MNIST not found in {DEFAULT_FASHION_DIR}; install it: "
                   "apt-get install dataset-fashion-mnist")
        if os.geteuid() == 0:
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    return str(DEFAULT_FASHION_DIR)


def randomize_batchnorm(model: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    """Give every BatchNorm non-trivial statistics and affine parameters, so parity tests can fail."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                n = module.num_features
                module.running_mean.copy_(torch.randn(n, generator=generator) * 0.1)
                module.running_var.copy_(torch.rand(n, generator=generator) + 0.5)
                module.weight.copy_(torch.rand(n, generator=generator) + 0.5)
                module.bias.copy_(torch.randn(n, generator=generator) * 0.1)
    return model
