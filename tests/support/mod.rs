//! Shared support for integration tests: the gateway binary on loopback
//! ports with a generated config, and a small raw RTMP client built from
//! the crate's own handshake, chunk and AMF code (so a test controls
//! exactly which bytes go into which TCP write).

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bytes::BytesMut;
use rtmp2sip::amf::{self, Value};
use rtmp2sip::rtmp::handshake::client::{ClientHandshake, ClientMode};
use rtmp2sip::rtmp::message::type_id;
use rtmp2sip::rtmp::{ChunkLimits, ChunkReader, ChunkWriter, Message, RtmpTimestamp};

/// A free loopback TCP port (bound then released).
fn free_tcp_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind tcp");
    l.local_addr().expect("addr").port()
}

/// A free loopback UDP port (bound then released).
fn free_udp_port() -> u16 {
    let s = UdpSocket::bind("127.0.0.1:0").expect("bind udp");
    s.local_addr().expect("addr").port()
}

/// The `rtmp2sip` binary running on loopback; killed on drop.
pub struct TestGateway {
    child: Child,
    pub rtmp_port: u16,
    pub dir: PathBuf,
}

impl TestGateway {
    /// Starts the binary with a generated config plus `extra` TOML lines
    /// (whole sections), and waits until it accepts RTMP connections.
    pub fn start(name: &str, extra: &str) -> Self {
        let rtmp_port = free_tcp_port();
        let sip_port = free_udp_port();
        let rtp = free_udp_port() & !1;
        let dir = std::env::temp_dir().join(format!("rtmp2sip-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let config = format!(
            "[rtmp]\nlisten = [\"127.0.0.1:{rtmp_port}\"]\n\n\
             [sip]\nlisten = \"127.0.0.1:{sip_port}\"\npublic_address = \"127.0.0.1\"\n\n\
             [media]\nbind_address = \"127.0.0.1\"\nrtp_ports = [{rtp}, {}]\n\n\
             [policy]\ndial_allow = [\"sip:echo@*\", \"sip:*@127.0.0.1\"]\n\n{extra}\n",
            rtp + 19
        );
        let cfg = dir.join("gateway.toml");
        std::fs::write(&cfg, config).expect("write config");
        let log = std::fs::File::create(dir.join("gateway.log")).expect("log file");
        let child = Command::new(env!("CARGO_BIN_EXE_rtmp2sip"))
            .arg("--config")
            .arg(&cfg)
            .env("RUST_LOG", "debug")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("spawn rtmp2sip");
        let gw = Self {
            child,
            rtmp_port,
            dir,
        };
        let deadline = Instant::now() + Duration::from_secs(15);
        while TcpStream::connect(("127.0.0.1", rtmp_port)).is_err() {
            assert!(Instant::now() < deadline, "gateway did not listen");
            std::thread::sleep(Duration::from_millis(50));
        }
        gw
    }

    /// The gateway's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("gateway.log")).unwrap_or_default()
    }
}

impl Drop for TestGateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One command message received: name, transaction id, and the values after them.
#[derive(Debug, Clone)]
pub struct Received {
    pub name: String,
    pub txn: f64,
    pub values: Vec<Value>,
}

impl Received {
    /// The `code` of the info object (the second value after the command object).
    pub fn code(&self) -> Option<&str> {
        self.values.get(1).and_then(|v| v.get_str("code"))
    }
}

/// A raw RTMP client: handshake, then chunked AMF0 commands.
pub struct RawClient {
    pub tcp: TcpStream,
    writer: ChunkWriter,
    reader: ChunkReader,
    inbuf: BytesMut,
    /// C2, held back so a test can send it with the first commands.
    pending_c2: BytesMut,
}

impl RawClient {
    /// Connects and runs the handshake up to (not including) sending C2.
    pub fn connect(port: u16) -> Self {
        let mut tcp = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        tcp.set_read_timeout(Some(Duration::from_millis(200)))
            .expect("timeout");
        let mut rng = rand::rngs::OsRng;
        let mut out = BytesMut::new();
        let mut hs = ClientHandshake::start(ClientMode::Plain, &mut rng, &mut out);
        tcp.write_all(&out).expect("C0C1");
        out.clear();
        let mut inbuf = BytesMut::new();
        let deadline = Instant::now() + Duration::from_secs(5);
        while !hs.is_done() {
            assert!(Instant::now() < deadline, "handshake timed out");
            let mut b = [0u8; 4096];
            match tcp.read(&mut b) {
                Ok(0) => panic!("closed during handshake"),
                Ok(n) => inbuf.extend_from_slice(&b[..n]),
                Err(_) => continue,
            }
            hs.receive(&mut inbuf, &mut rng, &mut out)
                .expect("handshake");
        }
        let mut reader = ChunkReader::new(ChunkLimits::DEFAULT);
        // Whatever followed S2 is chunk stream.
        let _ = &mut reader;
        Self {
            tcp,
            writer: ChunkWriter::new(),
            reader,
            inbuf,
            pending_c2: out,
        }
    }

    /// C2 (once) followed by the given chunk bytes, in ONE write.
    pub fn send_with_c2(&mut self, chunks: &[u8]) {
        let mut all = self.pending_c2.split();
        all.extend_from_slice(chunks);
        self.tcp.write_all(&all).expect("write");
    }

    /// Chunk bytes of an AMF0 command `name(txn, null, args...)` on chunk stream 3.
    pub fn command(&mut self, name: &str, txn: f64, stream_id: u32, args: &[Value]) -> Vec<u8> {
        let mut values = vec![Value::from(name), Value::from(txn), Value::Null];
        values.extend_from_slice(args);
        let msg = Message {
            csid: 3,
            timestamp: RtmpTimestamp(0),
            type_id: type_id::COMMAND_AMF0,
            stream_id,
            payload: amf::encode_amf0_all(&values).into(),
        };
        let mut out = BytesMut::new();
        self.writer.write(&msg, &mut out).expect("chunk");
        out.to_vec()
    }

    /// Chunk bytes of `connect({app})`, transaction 1.
    pub fn connect_command(&mut self, app: &str) -> Vec<u8> {
        let obj = Value::object([("app", app)]);
        let mut values = vec![Value::from("connect"), Value::from(1.0), obj];
        values.truncate(3);
        let msg = Message {
            csid: 3,
            timestamp: RtmpTimestamp(0),
            type_id: type_id::COMMAND_AMF0,
            stream_id: 0,
            payload: amf::encode_amf0_all(&values).into(),
        };
        let mut out = BytesMut::new();
        self.writer.write(&msg, &mut out).expect("chunk");
        out.to_vec()
    }

    /// Reads until `pred` matches a received command or `timeout` passes.
    /// Sends nothing meanwhile.
    pub fn wait_for(
        &mut self,
        timeout: Duration,
        mut pred: impl FnMut(&Received) -> bool,
    ) -> Option<Received> {
        let deadline = Instant::now() + timeout;
        loop {
            while let Ok(Some(msg)) = self.reader.read(&mut self.inbuf) {
                if msg.type_id != type_id::COMMAND_AMF0 {
                    continue;
                }
                let Ok(vals) = amf::decode_amf0_all(&msg.payload) else {
                    continue;
                };
                let mut it = vals.into_iter();
                let name = it.next().and_then(|v| v.as_str().map(str::to_string));
                let txn = it.next().and_then(|v| v.as_f64());
                if let (Some(name), Some(txn)) = (name, txn) {
                    let r = Received {
                        name,
                        txn,
                        values: it.collect(),
                    };
                    if pred(&r) {
                        return Some(r);
                    }
                }
            }
            if Instant::now() >= deadline {
                return None;
            }
            let mut b = [0u8; 16384];
            match self.tcp.read(&mut b) {
                Ok(0) => return None,
                Ok(n) => self.inbuf.extend_from_slice(&b[..n]),
                Err(_) => {}
            }
        }
    }
}
