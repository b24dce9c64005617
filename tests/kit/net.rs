//! Network fixtures for XDP and TC tests: a veth pair into a network namespace of its own,
//! packets sent across it, and the TC filters on an interface. Everything a fixture creates
//! is removed on drop, even on panic.

use std::path::Path;
use std::process::Command;

/// A veth pair: one end (`outside`, no address) in this namespace, the other inside a new
/// network namespace with 192.0.2.1/24 and a static neighbour 192.0.2.2 at `outside`'s MAC,
/// so that packets sent from the namespace arrive on `outside`. Removed on drop, even on panic.
pub struct VethInNamespace {
    /// The network namespace holding the inside end.
    pub namespace: String,
    /// The end in this namespace (at most 15 bytes, an interface name).
    pub outside: String,
}

impl VethInNamespace {
    /// Creates the pair and the namespace, named after `test`, a short tag unique among the
    /// tests (interface names keep 15 bytes), and this process's id.
    pub fn new(test: &str) -> Self {
        let id = std::process::id() % 100_000;
        let net = VethInNamespace {
            namespace: format!("ebl-{test}-{id}"),
            outside: format!("eblo{test}{id}").chars().take(15).collect(),
        };
        let inside: String = format!("ebli{test}{id}").chars().take(15).collect();
        net.cleanup();
        ip(&["netns", "add", &net.namespace]);
        ip(&[
            "link",
            "add",
            &net.outside,
            "type",
            "veth",
            "peer",
            "name",
            &inside,
            "netns",
            &net.namespace,
        ]);
        ip(&["link", "set", &net.outside, "up"]);
        ip(&["-n", &net.namespace, "link", "set", "lo", "up"]);
        ip(&["-n", &net.namespace, "link", "set", &inside, "up"]);
        ip(&[
            "-n",
            &net.namespace,
            "addr",
            "add",
            "192.0.2.1/24",
            "dev",
            &inside,
        ]);
        let mac =
            std::fs::read_to_string(format!("/sys/class/net/{}/address", net.outside)).unwrap();
        ip(&[
            "-n",
            &net.namespace,
            "neigh",
            "add",
            "192.0.2.2",
            "lladdr",
            mac.trim(),
            "dev",
            &inside,
            "nud",
            "permanent",
        ]);
        net
    }

    /// Whether an XDP program is attached to `outside`.
    pub fn xdp_attached(&self) -> bool {
        let out = Command::new("ip")
            .args(["-d", "link", "show", "dev", &self.outside])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).contains("prog/xdp")
    }

    /// Sends `count` IPv4 packets from inside the namespace towards `outside`: pings if
    /// `ping` is installed (protocol 1), UDP datagrams otherwise (protocol 17).
    pub fn send_packets(&self, count: u64) -> (u64, u32) {
        let with_ping = Command::new("ping")
            .arg("-V")
            .output()
            .is_ok_and(|o| o.status.success());
        let status = if with_ping {
            let count = count.to_string();
            // No reply will come (nothing answers on the other side): the exit code is 1.
            Command::new("ip")
                .args([
                    "netns",
                    "exec",
                    &self.namespace,
                    "ping",
                    "-q",
                    "-c",
                    &count,
                    "-i",
                    "0.2",
                    "-W",
                    "1",
                ])
                .arg("192.0.2.2")
                .output()
                .map(|o| o.status)
        } else {
            let script = format!(
                "for i in $(seq {count}); do echo ebpf-layout > /dev/udp/192.0.2.2/9; done"
            );
            Command::new("ip")
                .args(["netns", "exec", &self.namespace, "bash", "-c", &script])
                .status()
        };
        status.expect("sending packets from the namespace");
        (count, if with_ping { 1 } else { 17 })
    }

    fn cleanup(&self) {
        let quiet = |args: &[&str]| {
            let _ = Command::new("ip").args(args).output();
        };
        quiet(&["link", "del", &self.outside]);
        quiet(&["netns", "del", &self.namespace]);
    }
}

impl Drop for VethInNamespace {
    fn drop(&mut self) {
        self.cleanup();
    }
}

/// Runs `ip ARGS`, failing the test with ip's own message if it fails.
pub fn ip(args: &[&str]) {
    let out = Command::new("ip").args(args).output().expect("running ip");
    assert!(
        out.status.success(),
        "ip {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Turns IPv6 off on both ends of the veth pair (only there: on `outside`, and in the test's
/// own namespace), so that the kernel's neighbour discovery and MLD packets do not cross it
/// and a packet count is only what the test sent. What was sent before (when the links came
/// up) is sent before anything is attached.
pub fn silence_ipv6(net: &VethInNamespace) {
    let outside = format!("/proc/sys/net/ipv6/conf/{}/disable_ipv6", net.outside);
    if !Path::new(&outside).exists() {
        return; // no IPv6 in this kernel
    }
    std::fs::write(&outside, "1").unwrap_or_else(|e| panic!("{outside}: {e}"));
    ip(&[
        "netns",
        "exec",
        &net.namespace,
        "sh",
        "-c",
        "echo 1 > /proc/sys/net/ipv6/conf/all/disable_ipv6",
    ]);
}

/// Sends `count` Ethernet broadcast frames with the local experimental EtherType 0x88b5 out
/// of `iface` through a packet socket (so no IP address is needed; the peer drops them).
/// They go through the interface's TC egress hook like any other packet.
pub fn send_raw_frames(iface: &str, count: u64) -> u64 {
    use nix::sys::socket::{sendto, socket, AddressFamily, MsgFlags, SockFlag, SockType};
    use std::os::fd::AsRawFd as _;
    let link = nix::ifaddrs::getifaddrs()
        .unwrap()
        .filter(|a| a.interface_name == iface)
        .find_map(|a| a.address.and_then(|s| s.as_link_addr().copied()))
        .unwrap_or_else(|| panic!("no link-layer address for {iface}"));
    let socket = socket(
        AddressFamily::Packet,
        SockType::Raw,
        SockFlag::SOCK_CLOEXEC,
        None,
    )
    .expect("opening a packet socket");
    let mut frame = [0u8; 60];
    frame[..6].fill(0xff);
    frame[6..12].copy_from_slice(&link.addr().unwrap());
    frame[12..14].copy_from_slice(&0x88b5u16.to_be_bytes());
    frame[14..25].copy_from_slice(b"ebpf-layout");
    for _ in 0..count {
        let sent = sendto(socket.as_raw_fd(), &frame, &link, MsgFlags::empty())
            .unwrap_or_else(|e| panic!("sending a frame out of {iface}: {e}"));
        assert_eq!(sent, frame.len());
    }
    count
}

/// `tc filter show dev IFACE DIRECTION` (in this network namespace).
pub fn tc_filters(iface: &str, direction: &str) -> String {
    let out = Command::new("tc")
        .args(["filter", "show", "dev", iface, direction])
        .output()
        .expect("running tc");
    assert!(
        out.status.success(),
        "tc filter show dev {iface} {direction}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Whether `tc filter show` output lists a BPF filter running program `id`.
pub fn filter_has_program(filters: &str, id: u32) -> bool {
    let id = id.to_string();
    filters.lines().any(|line| {
        let words: Vec<&str> = line.split_whitespace().collect();
        line.contains(" bpf ") && words.windows(2).any(|w| w == ["id", id.as_str()])
    })
}
