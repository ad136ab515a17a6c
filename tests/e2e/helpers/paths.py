"""Where things are: the repository, the project's own test peers, the gateway binary."""
import os
import shutil
from pathlib import Path

#: Repository root (…/tests/e2e/helpers -> root).
REPO = Path(__file__).resolve().parents[3]
#: The project's copies of the third-party peer scenarios and tools.
PEERS = REPO / "tests" / "peers"
SIPP_DIR = PEERS / "sipp"
TOOLS_DIR = PEERS / "tools"
RTMP_DIR = PEERS / "rtmp"
#: Debian's interpreter: python3-librtmp, python3-numpy and python3-scipy live there.
PYTHON = "/usr/bin/python3"


def tool(name: str) -> str:
    """Absolute path of a tool script in tests/peers/tools or tests/peers/rtmp."""
    for d in (TOOLS_DIR, RTMP_DIR):
        p = d / name
        if p.exists():
            return str(p)
    raise FileNotFoundError(name)


def gateway_binary() -> Path:
    """The rtmp2sip binary under test: $RTMP2SIP_BIN, else $CARGO_TARGET_DIR/debug/rtmp2sip,
    else <repo>/target/debug/rtmp2sip."""
    env = os.environ.get("RTMP2SIP_BIN")
    if env:
        return Path(env)
    target = Path(os.environ.get("CARGO_TARGET_DIR") or REPO / "target")
    if not target.is_absolute():
        target = REPO / target
    return target / "debug" / "rtmp2sip"


def require_programs(*names: str) -> list:
    """Names of the programs in `names` that are not on PATH."""
    return [n for n in names if shutil.which(n) is None]
