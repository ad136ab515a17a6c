"""Fixtures for the end-to-end tests: ports, generated media, the gateway (one per test module), peer
processes (stopped after every test), RTMP control clients, and failure reports that show the gateway's
log of the failing test and the tails of every peer's log."""
import shutil
from functools import cached_property
from pathlib import Path

import pytest

from helpers import media
from helpers.gateway import Gateway
from helpers.ports import PortAllocator
from helpers.procs import Procs
from helpers.rtmp_control import RtmpControl

REQUIRED_PROGRAMS = ("sipp", "ffmpeg", "ffprobe", "tshark")
_LOG_OFFSET = pytest.StashKey[int]()
_EXTRA_GATEWAYS = pytest.StashKey[list]()
_MEASURE_PREFIX = "measure:"


def pytest_sessionstart(session):
    missing = [p for p in REQUIRED_PROGRAMS if shutil.which(p) is None]
    try:
        import librtmp  # noqa: F401
        import numpy  # noqa: F401
        import scipy  # noqa: F401
    except ImportError as e:
        missing.append(f"python module {e.name} (run the tests with /usr/bin/python3)")
    if missing:
        raise pytest.UsageError("missing test peers: " + ", ".join(missing) +
                                "; run scripts/install-test-deps.sh")


@pytest.fixture(scope="session")
def ports():
    return PortAllocator()


class Assets:
    """Media made once per session (lazily): tone WAVs, the RTP pcaps sipp plays, Speex FLVs."""

    def __init__(self, d: Path):
        self.dir = d

    @cached_property
    def far_end_wav(self) -> Path:
        # 1 s silence then 5 s tone: a Speex decoder that joins a pure sine mid-stream never
        # recovers, and RTMP players join a little after the far end starts sending.
        return media.make_tone_wav(self.dir / "far_end.wav", tone_s=5, lead_silence_s=1)

    @cached_property
    def pcmu_pcap(self) -> Path:
        return media.make_rtp_pcap(self.far_end_wav, self.dir / "far_end_pcmu.pcap", "pcmu")

    @cached_property
    def speex_pcap(self) -> Path:
        return media.make_rtp_pcap(self.far_end_wav, self.dir / "far_end_speex16.pcap", "speex16")

    @cached_property
    def publish_flv(self) -> Path:
        """5 s 1 kHz tone as Speex in FLV (ffmpeg libspeex): published byte for byte by librtmp."""
        wav = media.make_tone_wav(self.dir / "publish.wav", tone_s=5)
        return media.make_speex_flv(wav, self.dir / "publish_speex.flv")


@pytest.fixture(scope="session")
def assets(tmp_path_factory):
    return Assets(tmp_path_factory.mktemp("assets"))


@pytest.fixture(scope="module")
def gateway(request, ports, tmp_path_factory):
    """rtmp2sip on loopback, one per test module; a module may set GATEWAY_OVERRIDES =
    {"section": {"key": value}} to change its config."""
    overrides = getattr(request.module, "GATEWAY_OVERRIDES", {})
    out = tmp_path_factory.mktemp("gw-" + request.module.__name__.rsplit(".", 1)[-1])
    gw = Gateway(out, ports, overrides)
    problem = None
    try:
        gw.start()
    except AssertionError as e:
        problem = str(e)
    if problem:
        gw.stop()
        pytest.fail(problem, pytrace=False)
    yield gw
    gw.stop()


@pytest.fixture
def gateway_factory(request, ports, out_dir):
    """Factory: gateway_factory(overrides, name="gw") -> a started extra Gateway with its own config
    (for tests that need a second configuration, or that stop the gateway themselves); every one is
    stopped at teardown, and the failure report shows their logs."""
    made = []
    request.node.stash[_EXTRA_GATEWAYS] = made

    def make(overrides: dict = None, name: str = "gw") -> Gateway:
        gw = Gateway(out_dir / f"{name}{len(made)}", ports, overrides)
        made.append(gw)
        gw.start()
        return gw
    yield make
    for gw in made:
        gw.stop()


@pytest.fixture(autouse=True)
def _gateway_watch(request):
    """Marks where the gateway log stood when the test began; afterwards the gateway must still run."""
    if "gateway" not in request.fixturenames:
        yield
        return
    gw = request.getfixturevalue("gateway")
    request.node.stash[_LOG_OFFSET] = gw.log_size()
    yield
    assert gw.alive(), f"rtmp2sip died during the test (exit {gw.proc.popen.returncode}); log {gw.log}"


@pytest.fixture
def out_dir(tmp_path) -> Path:
    """The test's own folder for logs, captures and recordings (kept by pytest for the last runs)."""
    return tmp_path


@pytest.fixture
def procs(out_dir):
    """Peer processes of one test; every one still running is stopped at teardown."""
    p = Procs(out_dir)
    yield p
    p.stop_all()


@pytest.fixture
def rtmp_client(gateway):
    """Factory: rtmp_client() -> a connected RtmpControl to the gateway; all closed at teardown."""
    made = []

    def make(url: str = None) -> RtmpControl:
        c = RtmpControl(url or gateway.url())
        made.append(c)
        return c
    yield make
    for c in made:
        c.close()


@pytest.fixture
def measure(request):
    """measure(name, value): a figure shown in the run's summary (e.g. an SNR). Kept in the test's
    user_properties, which pytest-xdist carries from its workers to the summary."""
    def rec(name, value):
        request.node.user_properties.append((_MEASURE_PREFIX + name, value))
    return rec


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if not rep.failed:
        return
    gw = item.funcargs.get("gateway") if hasattr(item, "funcargs") else None
    if gw is not None:
        off = item.stash.get(_LOG_OFFSET, 0)
        rep.sections.append((f"rtmp2sip log during this test ({gw.log})", gw.log_since(off)))
    for extra in item.stash.get(_EXTRA_GATEWAYS, []):
        rep.sections.append((f"extra rtmp2sip log ({extra.log})", extra.log_since(0)))
    p = item.funcargs.get("procs") if hasattr(item, "funcargs") else None
    if p is not None and p.items:
        rep.sections.append(("peer process logs (tails)", p.describe()))
    od = item.funcargs.get("out_dir") if hasattr(item, "funcargs") else None
    if od is not None:
        rep.sections.append(("test output folder", str(od)))


def pytest_terminal_summary(terminalreporter):
    lines = []
    for outcome in ("passed", "failed"):
        for rep in terminalreporter.stats.get(outcome, []):
            if getattr(rep, "when", None) != "call":
                continue
            for name, value in getattr(rep, "user_properties", []):
                if name.startswith(_MEASURE_PREFIX):
                    lines.append(f"{rep.nodeid}: {name[len(_MEASURE_PREFIX):]} = {value}")
    if lines:
        terminalreporter.section("e2e measurements")
        for line in sorted(lines):
            terminalreporter.write_line(line)
