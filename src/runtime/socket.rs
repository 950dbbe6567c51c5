//! UDP socket setup. Buffers are enlarged (bursts of anti-entropy deltas and join storms arrive
//! faster than one task drains them) and SO_REUSEADDR is deliberately *not* set: a second node
//! on a taken port must fail loudly instead of silently sharing it.

use std::io;
use std::net::SocketAddr;

use socket2::{Domain, Protocol, Socket, Type};
use tokio::net::UdpSocket;

/// Requested kernel buffer size; Linux doubles it and caps it at `net.core.rmem_max`.
const BUFFER_BYTES: usize = 4 << 20;

/// Why a node could not open its socket.
#[derive(Debug)]
pub enum BindError {
    InUse(SocketAddr),
    Other { addr: SocketAddr, source: io::Error },
}

impl std::fmt::Display for BindError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BindError::InUse(addr) => write!(
                f,
                "address {addr} is already in use: is another node running on that port?"
            ),
            BindError::Other { addr, source } => write!(f, "cannot bind {addr}: {source}"),
        }
    }
}

impl std::error::Error for BindError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            BindError::Other { source, .. } => Some(source),
            BindError::InUse(_) => None,
        }
    }
}

/// Binds a non-blocking UDP socket on `addr` for tokio.
pub fn bind_udp(addr: SocketAddr) -> Result<UdpSocket, BindError> {
    let other = |source| BindError::Other { addr, source };
    let socket =
        Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP)).map_err(other)?;
    if addr.is_ipv6() {
        // Dual-stack where the OS allows it, so an IPv6 node can still be reached over IPv4.
        let _ = socket.set_only_v6(false);
    }
    // Failing to enlarge buffers only costs drops under bursts; not a reason to refuse to start.
    let _ = socket.set_recv_buffer_size(BUFFER_BYTES);
    let _ = socket.set_send_buffer_size(BUFFER_BYTES);
    socket.bind(&addr.into()).map_err(|e| {
        if e.kind() == io::ErrorKind::AddrInUse {
            BindError::InUse(addr)
        } else {
            other(e)
        }
    })?;
    socket.set_nonblocking(true).map_err(other)?;
    UdpSocket::from_std(socket.into()).map_err(other)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_second_node_on_a_taken_port_fails_clearly() {
        let first = bind_udp("127.0.0.1:0".parse().unwrap()).unwrap();
        let addr = first.local_addr().unwrap();
        match bind_udp(addr) {
            Err(BindError::InUse(a)) => assert_eq!(a, addr),
            other => panic!("expected InUse, got {other:?}"),
        }
    }
}
