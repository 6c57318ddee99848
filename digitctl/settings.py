"""Per-user settings locations: the config directory holds master-key files and session tokens."""
from __future__ import annotations

import os
from pathlib import Path


def config_dir() -> Path:
    """`DIGIT_CONFIG_DIR`, else the platform's user config directory for digitctl."""
    env = os.environ.get("DIGIT_CONFIG_DIR")
    if env:
        return Path(env).expanduser()
    from platformdirs import user_config_dir

    return Path(user_config_dir("digitctl", appauthor=False))


def write_private(path: Path, data: bytes) -> None:
    """Write a file only its owner can read (0600), replacing any previous one atomically."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)
