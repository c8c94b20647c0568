"""A real single-node Apache Kafka broker (KRaft) for development, demos and tests.

The broker jars come from Maven Central (``org.apache.kafka:kafka_2.13`` and its runtime
dependencies), fetched once with Maven into a cache outside the repository. The broker is
Apache Kafka itself, started with ``java -cp ... kafka.Kafka``; there is no substitute.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from streams.exceptions import BrokerError
from streams.settings import KAFKA_VERSION, BrokerSettings

_POM = """<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>gaitline</groupId><artifactId>kafka-broker</artifactId><version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka_2.13</artifactId>
      <version>{version}</version></dependency>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka-tools</artifactId>
      <version>{version}</version></dependency>
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-slf4j-impl</artifactId>
      <version>2.24.3</version></dependency>
  </dependencies>
</project>
"""

_LOG4J2 = """status = error
appender.file.type = File
appender.file.name = file
appender.file.fileName = ${sys:kafka.logs.dir}/server.log
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.file.ref = file
logger.kafka.name = kafka
logger.kafka.level = INFO
logger.state.name = state.change.logger
logger.state.level = WARN
"""


def jars_dir(settings: BrokerSettings) -> Path:
    """Folder holding the broker's jars for the pinned version."""
    return settings.cache_dir / f"kafka-{KAFKA_VERSION}" / "libs"


def ensure_jars(settings: BrokerSettings) -> Path:
    """Fetch the broker jars from Maven Central once; return the folder that holds them."""
    libs = jars_dir(settings)
    marker = libs / ".complete"
    if marker.exists():
        return libs
    mvn = shutil.which("mvn")
    if mvn is None:
        raise BrokerError("Maven ('mvn') is not on PATH; it is needed once to fetch the Kafka jars")
    work = libs.parent
    work.mkdir(parents=True, exist_ok=True)
    (work / "pom.xml").write_text(_POM.format(version=KAFKA_VERSION))
    cmd = [mvn, "-q", "-B", "-f", str(work / "pom.xml"), "dependency:copy-dependencies",
           f"-DoutputDirectory={libs}", "-DincludeScope=runtime"]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        tail = (proc.stdout + proc.stderr).strip().splitlines()[-5:]
        raise BrokerError(f"fetching Kafka {KAFKA_VERSION} from Maven Central failed: {' | '.join(tail)}")
    if not any(libs.glob("kafka_2.13-*.jar")):
        raise BrokerError(f"Maven finished but no kafka_2.13 jar is in {libs}")
    marker.write_text(KAFKA_VERSION)
    return libs


@dataclass
class BrokerStatus:
    """What ``gaitline kafka status`` reports."""

    running: bool
    pid: int | None
    bootstrap: str
    version: str
    state_dir: Path


class LocalBroker:
    """One KRaft broker+controller on 127.0.0.1, its data and pid file under ``state_dir``."""

    def __init__(self, settings: BrokerSettings) -> None:
        self.settings = settings
        self.port = settings.port
        self.controller_port = settings.controller_port or settings.port + 1
        self.state_dir = settings.state_dir or settings.cache_dir / f"broker-{self.port}"
        self.pid_file = self.state_dir / "broker.pid"

    @property
    def bootstrap(self) -> str:
        """The address clients connect to."""
        return f"127.0.0.1:{self.port}"

    def _properties(self) -> Path:
        props = self.state_dir / "server.properties"
        lines = {
            "process.roles": "broker,controller",
            "node.id": "1",
            "controller.quorum.voters": f"1@127.0.0.1:{self.controller_port}",
            "listeners": f"PLAINTEXT://127.0.0.1:{self.port},CONTROLLER://127.0.0.1:{self.controller_port}",
            "advertised.listeners": f"PLAINTEXT://127.0.0.1:{self.port}",
            "controller.listener.names": "CONTROLLER",
            "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            "log.dirs": str(self.state_dir / "data"),
            "offsets.topic.replication.factor": "1",
            "offsets.topic.num.partitions": "6",
            "transaction.state.log.replication.factor": "1",
            "transaction.state.log.min.isr": "1",
            "share.coordinator.state.topic.replication.factor": "1",
            "share.coordinator.state.topic.min.isr": "1",
            # group joins are immediate on a dev broker; production keeps the default delay
            "group.initial.rebalance.delay.ms": "0",
            "num.partitions": "1",
            "auto.create.topics.enable": "true",
            "log.cleaner.backoff.ms": "1000",
            # a dev broker shares a small host with the stages: as many request threads as it has work
            # for (the defaults, 3 network and 8 I/O threads, are sized for a dedicated server), and the
            # controller's keep-alive record every 5 s instead of every 0.5 s (one node: nobody to tell)
            "num.network.threads": "2",
            "num.io.threads": "2",
            "background.threads": "2",
            "metadata.max.idle.interval.ms": "5000",
        }
        if self.settings.secure_port:
            # clients may use SASL_SSL (SCRAM over TLS) on the secure port; the PLAINTEXT listener stays
            # on 127.0.0.1 for the broker's own traffic and the local admin probe
            tls = self._tls()
            lines |= {
                "listeners": lines["listeners"] + f",SASL_SSL://127.0.0.1:{self.settings.secure_port}",
                "advertised.listeners": lines["advertised.listeners"]
                + f",SASL_SSL://127.0.0.1:{self.settings.secure_port}",
                "listener.security.protocol.map": lines["listener.security.protocol.map"] + ",SASL_SSL:SASL_SSL",
                "inter.broker.listener.name": "PLAINTEXT",
                "sasl.enabled.mechanisms": "SCRAM-SHA-512",
                "listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config":
                    "org.apache.kafka.common.security.scram.ScramLoginModule required;",
                "listener.name.sasl_ssl.ssl.keystore.type": "PEM",
                "listener.name.sasl_ssl.ssl.keystore.location": str(tls / "server.pem"),
            }
        props.write_text("".join(f"{k}={v}\n" for k, v in lines.items()))
        (self.state_dir / "log4j2.properties").write_text(_LOG4J2)
        return props

    def _tls(self) -> Path:
        """A development CA and a server certificate for 127.0.0.1/localhost (made once, with openssl)."""
        tls = self.state_dir / "tls"
        if (tls / "server.pem").is_file():
            return tls
        if shutil.which("openssl") is None:
            raise BrokerError("the secure listener needs the openssl command to make its certificates")
        tls.mkdir(parents=True, exist_ok=True)
        (tls / "san.ext").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
        steps = [
            ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "3650", "-subj", "/CN=gaitline dev CA",
             "-keyout", "ca.key", "-out", "ca.pem"],
            ["req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost", "-keyout", "server.key",
             "-out", "server.csr"],
            ["x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
             "-days", "3650", "-extfile", "san.ext", "-out", "server.crt"],
        ]
        for args in steps:
            res = subprocess.run(["openssl", *args], cwd=tls, capture_output=True, text=True, check=False)
            if res.returncode != 0:
                raise BrokerError(f"openssl {args[0]} failed: {res.stderr.strip()[-300:]}")
        # Kafka's PEM keystore: the PKCS#8 key, then the certificate chain, in one file
        (tls / "server.pem").write_text((tls / "server.key").read_text() + (tls / "server.crt").read_text()
                                        + (tls / "ca.pem").read_text())
        for secret in ("ca.key", "server.key", "server.pem"):
            (tls / secret).chmod(0o600)
        return tls

    def _java(self, libs: Path, *args: str, heap: bool = False) -> list[str]:
        java = shutil.which("java")
        if java is None:
            raise BrokerError("Java ('java') is not on PATH; the Kafka broker needs Java 17+")
        cmd = [java]
        if heap:
            cmd += [f"-Xmx{self.settings.heap_mb}m", f"-Xms{min(256, self.settings.heap_mb)}m",
                    # a heap this small collects in milliseconds without G1's concurrent threads
                    "-XX:+UseSerialGC"]
        cmd += [f"-Dlog4j2.configurationFile={self.state_dir / 'log4j2.properties'}",
                f"-Dkafka.logs.dir={self.state_dir / 'logs'}", "-cp", f"{libs}/*", *args]
        return cmd

    def pid(self) -> int | None:
        """PID of the running broker from its pid file, or None."""
        try:
            pid = int(self.pid_file.read_text().strip())
        except (OSError, ValueError):
            return None
        try:
            os.kill(pid, 0)
        except OSError:
            return None
        return pid

    def answers(self, timeout: float = 1.0) -> bool:
        """True when the broker accepts a connection and serves metadata."""
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=timeout):
                pass
        except OSError:
            return False
        from kafka import KafkaAdminClient
        from kafka.errors import KafkaError

        try:
            admin = KafkaAdminClient(bootstrap_servers=[self.bootstrap], request_timeout_ms=5000,
                                     client_id="gaitline-broker-probe")
        except (KafkaError, OSError, ValueError):
            return False
        try:
            admin.list_topics()
            return True
        except (KafkaError, OSError):
            return False
        finally:
            admin.close()

    def start(self) -> BrokerStatus:
        """Fetch jars if needed, format storage on first start, start and wait until it answers."""
        if self.pid() is not None:
            if not self.answers():
                self._wait_ready(self.pid())
            return self.status()
        if _port_busy(self.port):
            raise BrokerError(f"port {self.port} is taken by another process; set GAITLINE_BROKER_PORT")
        libs = ensure_jars(self.settings)
        self.state_dir.mkdir(parents=True, exist_ok=True)
        (self.state_dir / "logs").mkdir(exist_ok=True)
        props = self._properties()
        if not (self.state_dir / "data" / "meta.properties").exists():
            scram = [arg for name, pw in self.settings.sasl_users.items() for arg in
                     ("--add-scram", f"SCRAM-SHA-512=[name={name},password={pw.get_secret_value()}]")]
            fmt = subprocess.run(
                self._java(libs, "kafka.tools.StorageTool", "format", "-t", str(uuid.uuid4().hex[:22]),
                           "-c", str(props), *scram),
                capture_output=True, text=True, check=False)
            if fmt.returncode != 0:
                raise BrokerError(f"formatting KRaft storage failed: {fmt.stderr.strip()[-300:]}")
        out = open(self.state_dir / "logs" / "stdout.log", "ab")  # noqa: SIM115 - handed to the child
        proc = subprocess.Popen(self._java(libs, "kafka.Kafka", str(props), heap=True),
                                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        out.close()
        self.pid_file.write_text(str(proc.pid))
        self._wait_ready(proc.pid, proc)
        return self.status()

    def _wait_ready(self, pid: int | None, proc: subprocess.Popen[bytes] | None = None) -> None:
        deadline = time.monotonic() + self.settings.start_timeout_s
        while time.monotonic() < deadline:
            if proc is not None and proc.poll() is not None:
                log = (self.state_dir / "logs" / "stdout.log").read_text(errors="replace")[-500:]
                raise BrokerError(f"Kafka broker exited with code {proc.returncode}: {log.strip()}")
            if self.answers():
                return
            time.sleep(0.5)
        raise BrokerError(f"Kafka broker (pid {pid}) did not answer on {self.bootstrap} within "
                          f"{self.settings.start_timeout_s:.0f}s; see {self.state_dir / 'logs'}")

    def stop(self, timeout: float = 30.0) -> bool:
        """SIGTERM the broker and wait for it to exit (SIGKILL after ``timeout``). False if none ran."""
        pid = self.pid()
        if pid is None:
            self.pid_file.unlink(missing_ok=True)
            return False
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not _alive(pid):
                break
            time.sleep(0.2)
        else:
            os.kill(pid, signal.SIGKILL)
        self.pid_file.unlink(missing_ok=True)
        return True

    def status(self) -> BrokerStatus:
        """Whether the broker runs, its pid and where it listens."""
        pid = self.pid()
        return BrokerStatus(running=pid is not None and self.answers(), pid=pid, bootstrap=self.bootstrap,
                            version=KAFKA_VERSION, state_dir=self.state_dir)


def _alive(pid: int) -> bool:
    try:
        waited, _ = os.waitpid(pid, os.WNOHANG)
        if waited == pid:
            return False
    except ChildProcessError:
        pass
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    try:
        stat = Path(f"/proc/{pid}/stat").read_text().split()
        return stat[2] != "Z"
    except OSError:
        return False


def _port_busy(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0
