"""A throw-away single-node SLURM cluster on localhost, for tests of ``hydra/launcher=slurm``.

Debian's slurm-wlm (22.05), munge, slurmdbd and MariaDB, installed with apt-get if missing and
started by hand (no systemd): every daemon runs in the foreground as a child of this process, with
its state, sockets, logs and configs under one temporary folder, on free ports, and is stopped by
its PID. slurmdbd (with MariaDB on a unix socket only) is needed so that ``sacct`` works: without
accounting, submitit sees every job as UNKNOWN and waits forever for one that died without a
result.

    with LocalSlurm(tmp) as cluster:
        subprocess.run([...], env=cluster.env)   # SLURM_CONF points at the cluster

Every wait is bounded; :class:`Unavailable` says why a cluster cannot run here.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Dict, List, Optional

PACKAGES = ["slurm-wlm", "munge", "mariadb-server", "slurmdbd"]
BINARIES = ["munged", "mariadbd", "mariadb-install-db", "slurmdbd", "slurmctld", "slurmd", "sbatch", "sacct",
            "sacctmgr", "squeue", "scancel", "sinfo"]
CLUSTER = "cstest"


class Unavailable(RuntimeError):
    """A local SLURM cluster cannot run on this machine (the reason is the message)."""


APT_LOCK = "/tmp/circuitsim-tests-apt.lock"


def _missing() -> List[str]:
    path = os.environ.get("PATH", "") + ":/usr/sbin:/sbin:/usr/bin"
    return [b for b in BINARIES if shutil.which(b, path=path) is None]


def ensure_installed(timeout: float = 600) -> None:
    """apt-get install the packages if a binary is missing (root and apt-get needed)."""
    if not _missing():
        return
    if os.geteuid() != 0:
        raise Unavailable(f"SLURM binaries missing ({', '.join(_missing())}) and not root, so apt-get cannot install them")
    if shutil.which("apt-get") is None:
        raise Unavailable(f"SLURM binaries missing ({', '.join(_missing())}) and no apt-get")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    deadline = time.monotonic() + timeout
    # pytest-xdist workers: one apt-get at a time (tests/test_app.py installs chromium the same way)
    with open(APT_LOCK, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        for cmd in (["apt-get", "update", "-q"],
                    ["apt-get", "install", "-y", "-q", "--no-install-recommends", *PACKAGES]):
            if not _missing():
                break
            try:
                out = subprocess.run(cmd, env=env, capture_output=True, text=True,
                                     timeout=max(1.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                raise Unavailable(f"`{' '.join(cmd)}` did not finish in {timeout:.0f} s") from None
            if out.returncode != 0:
                raise Unavailable(f"`{' '.join(cmd)}` failed: {(out.stderr or out.stdout).strip()[-500:]}")
    if _missing():
        raise Unavailable(f"still missing after apt-get: {', '.join(_missing())}")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _mem_mb() -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) // 1024
    return 2048


class LocalSlurm:
    def __init__(self, root: Path, cpus: Optional[int] = None):
        self.root = Path(root)
        self.cpus = cpus or os.cpu_count() or 1
        self.procs: Dict[str, subprocess.Popen] = {}
        self.env = dict(os.environ)
        self.env["PATH"] = self.env.get("PATH", "") + ":/usr/sbin:/sbin"

    # ------------------------------------------------------------------ helpers
    def _p(self, *parts: str) -> Path:
        return self.root.joinpath(*parts)

    def _start(self, name: str, cmd: List[str], env: Optional[dict] = None) -> None:
        log = open(self._p("logs", f"{name}.out"), "w")
        self.procs[name] = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env or self.env,
                                            start_new_session=True)

    def _wait(self, what: str, check, timeout: float, daemon: Optional[str] = None) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if daemon and self.procs[daemon].poll() is not None:
                raise Unavailable(f"{daemon} exited ({self.procs[daemon].returncode}): {self.log_tail(daemon)}")
            try:
                if check():
                    return
            except (OSError, subprocess.SubprocessError):
                pass
            time.sleep(0.3)
        raise Unavailable(f"{what} not ready after {timeout:.0f} s: {self.log_tail(daemon) if daemon else ''}")

    def log_tail(self, name: str, n: int = 1500) -> str:
        text = ""
        for path in (self._p("logs", f"{name}.out"), self._p("logs", f"{name}.log")):
            if path.is_file():
                text += path.read_text(errors="replace")[-n:]
        return text.strip()

    def run(self, *cmd: str, timeout: float = 30) -> subprocess.CompletedProcess:
        return subprocess.run(list(cmd), env=self.env, capture_output=True, text=True, timeout=timeout)

    # ------------------------------------------------------------------ start / stop
    def start(self, timeout: float = 60) -> "LocalSlurm":
        ensure_installed()
        for d in ("logs", "munge", "mysql", "state", "spool", "run"):
            self._p(d).mkdir(parents=True, exist_ok=True)
        os.chmod(self.root, 0o755)
        munge_sock = self._p("munge", "munge.socket.2")
        mysql_sock = self._p("run", "mysqld.sock")
        key = Path("/etc/munge/munge.key")
        if not key.is_file():
            if shutil.which("mungekey", path=self.env["PATH"]):
                key = self._p("munge", "munge.key")
                self.run("mungekey", "--create", f"--keyfile={key}")
            else:
                raise Unavailable("no munge key (/etc/munge/munge.key) and no mungekey to create one")
        try:
            # munge: authentication of every SLURM message
            self._start("munged", ["munged", "--foreground", "--force", f"--socket={munge_sock}",
                                   f"--key-file={key}", f"--pid-file={self._p('run', 'munged.pid')}",
                                   f"--seed-file={self._p('munge', 'seed')}",
                                   f"--log-file={self._p('logs', 'munged.log')}"])
            self._wait("munged", munge_sock.exists, 15, "munged")

            # MariaDB on a unix socket only: the accounting database of slurmdbd
            out = self.run("mariadb-install-db", "--user=root", f"--datadir={self._p('mysql')}",
                           "--auth-root-authentication-method=socket", "--skip-test-db", timeout=120)
            if out.returncode != 0:
                raise Unavailable(f"mariadb-install-db failed: {out.stderr[-500:]}")
            self._start("mariadbd", ["mariadbd", "--no-defaults", "--user=root", f"--datadir={self._p('mysql')}",
                                     f"--socket={mysql_sock}", "--skip-networking",
                                     f"--pid-file={self._p('run', 'mariadbd.pid')}",
                                     f"--log-error={self._p('logs', 'mariadbd.log')}",
                                     "--innodb-buffer-pool-size=32M"])
            self._wait("mariadbd", mysql_sock.exists, 60, "mariadbd")

            dbd_port, ctld_port, slurmd_port = _free_port(), _free_port(), _free_port()
            auth = f"AuthType=auth/munge\nAuthInfo=socket={munge_sock}\n"
            dbd_conf = self._p("slurmdbd.conf")
            dbd_conf.write_text(
                auth + f"DbdHost=localhost\nDbdPort={dbd_port}\nSlurmUser=root\n"
                f"PidFile={self._p('run', 'slurmdbd.pid')}\nLogFile={self._p('logs', 'slurmdbd.log')}\n"
                "StorageType=accounting_storage/mysql\nStorageHost=localhost\nStorageUser=root\n"
                "StorageLoc=slurm_acct_db\n")
            os.chmod(dbd_conf, 0o600)
            self._p("slurm.conf").write_text(
                auth + f"ClusterName={CLUSTER}\nSlurmctldHost=localhost\nSlurmUser=root\nSlurmdUser=root\n"
                f"SlurmctldPort={ctld_port}\nSlurmdPort={slurmd_port}\n"
                "CredType=cred/munge\nMpiDefault=none\nProctrackType=proctrack/linuxproc\nTaskPlugin=task/none\n"
                "JobAcctGatherType=jobacct_gather/none\nSchedulerType=sched/backfill\n"
                "SelectType=select/cons_tres\nSelectTypeParameters=CR_CPU\nReturnToService=2\n"
                "SlurmctldTimeout=30\nSlurmdTimeout=30\nInactiveLimit=0\nMinJobAge=300\nKillWait=5\n"
                f"StateSaveLocation={self._p('state')}\nSlurmdSpoolDir={self._p('spool')}\n"
                f"SlurmctldPidFile={self._p('run', 'slurmctld.pid')}\nSlurmdPidFile={self._p('run', 'slurmd.pid')}\n"
                f"SlurmctldLogFile={self._p('logs', 'slurmctld.log')}\nSlurmdLogFile={self._p('logs', 'slurmd.log')}\n"
                f"AccountingStorageType=accounting_storage/slurmdbd\nAccountingStorageHost=localhost\n"
                f"AccountingStoragePort={dbd_port}\nAccountingStoragePass={munge_sock}\n"
                f"NodeName=localhost CPUs={self.cpus} RealMemory={max(512, _mem_mb() - 1024)} State=UNKNOWN\n"
                "PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP\n")
            self.env["SLURM_CONF"] = str(self._p("slurm.conf"))
            self.env["MYSQL_UNIX_PORT"] = str(mysql_sock)   # how slurmdbd's MariaDB client finds the socket

            self._start("slurmdbd", ["slurmdbd", "-D"])
            last = {}

            def dbd_answers() -> bool:
                last["out"] = self.run("sacctmgr", "-n", "list", "cluster", timeout=20)
                return last["out"].returncode == 0
            try:
                # the first start creates the accounting tables: slow on a busy 2-core machine
                self._wait("slurmdbd", dbd_answers, 3 * timeout, "slurmdbd")
            except Unavailable as err:
                out = last.get("out")
                raise Unavailable(f"{err}\nlast `sacctmgr list cluster`: "
                                  f"{(out.stdout + out.stderr).strip()[-500:] if out else 'never answered'}") from None
            out = self.run("sacctmgr", "-i", "add", "cluster", CLUSTER, timeout=20)
            if out.returncode != 0 and "already exists" not in out.stdout + out.stderr:
                raise Unavailable(f"sacctmgr add cluster failed: {out.stdout} {out.stderr}")
            self._start("slurmctld", ["slurmctld", "-D", "-i"])
            self._start("slurmd", ["slurmd", "-D", "-N", "localhost"])
            self._wait("slurmctld and slurmd (node idle)",
                       lambda: self.run("sinfo", "-h", "-o", "%T", timeout=10).stdout.strip() == "idle",
                       timeout, "slurmctld")
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self, timeout: float = 15) -> None:
        """Cancel remaining jobs and stop every daemon started here, by PID (SIGTERM, then SIGKILL)."""
        if "slurmctld" in self.procs and self.procs["slurmctld"].poll() is None:
            try:
                self.run("scancel", "--user=root", timeout=10)
            except (OSError, subprocess.SubprocessError):
                pass
        for name in ("slurmd", "slurmctld", "slurmdbd", "mariadbd", "munged"):
            proc = self.procs.get(name)
            if proc is None or proc.poll() is not None:
                continue
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
        self.procs.clear()

    def __enter__(self) -> "LocalSlurm":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def wait_idle(self, timeout: float = 120) -> None:
        """Wait until no job is queued or running."""
        self._wait("empty queue", lambda: self.run("squeue", "-h", timeout=10).stdout.strip() == "", timeout)

    def wait_accounted(self, check, *sacct_args: str, timeout: float = 60) -> str:
        """Poll ``sacct -n -X -o JobID,State --parsable2 [sacct_args]`` until ``check(output)`` holds and
        return that output. slurmctld sends job records to slurmdbd asynchronously, so a job that has
        finished (its result file is written, submitit has returned) can still be missing from sacct or
        listed as RUNNING for a moment. ``-S`` reaches back past midnight (sacct's default start).
        After ``timeout`` the last output is returned for the caller's assertion."""
        last = {"out": ""}

        def accounted() -> bool:
            last["out"] = self.run("sacct", "-n", "-X", "-o", "JobID,State", "--parsable2",
                                   "-S", "2020-01-01", *sacct_args, timeout=20).stdout
            return check(last["out"])

        try:
            self._wait("sacct", accounted, timeout)
        except Unavailable:
            pass   # the caller asserts on the last output
        return last["out"]
