//! A fault-injection proxy for any TCP service (an S3 endpoint, a Lightning node's REST API, PostgreSQL): it
//! forwards connections to the service, or fails them the way a network or a service in trouble does. The fault
//! can be changed at any time and applies at once, to new connections and to the answers of open ones (clients
//! keep connections alive in pools):
//! - [`Fault::Stop`]: every connection is reset, as by a host whose service stopped;
//! - [`Fault::Reset`]: the start of a request (its first read, up to 64 KB) gets through, then the connection is
//!   reset before any answer;
//! - [`Fault::Hang`]: requests get through, answers never come;
//! - [`Fault::Delay`]: each chunk of an answer waits first;
//! - [`Fault::Truncate`]: a connection's answers are cut after that many bytes, and the connection closed.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// What the proxy does to the traffic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Forwards everything.
    Pass,
    /// Resets every connection, new and open.
    Stop,
    /// Lets the start of a request through, then resets the connection instead of answering.
    Reset,
    /// Lets requests through and holds the answers.
    Hang,
    /// Holds each chunk of an answer this long.
    Delay(Duration),
    /// Forwards this many bytes of a connection's answers, then closes it.
    Truncate(usize),
}

/// The proxy; it stops with the runtime it was started on.
pub struct FaultProxy {
    /// Where clients connect instead of the service.
    pub addr: SocketAddr,
    fault: Arc<Mutex<Fault>>,
}

impl FaultProxy {
    /// Starts forwarding from a free port on 127.0.0.1 to `target`.
    pub async fn start(target: SocketAddr) -> FaultProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("a free port");
        let addr = listener.local_addr().expect("its address");
        let fault = Arc::new(Mutex::new(Fault::Pass));
        let shared = fault.clone();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let fault = shared.clone();
                tokio::spawn(async move {
                    if current(&fault) == Fault::Stop {
                        reset(client);
                        return;
                    }
                    if let Ok(service) = TcpStream::connect(target).await {
                        pump(client, service, fault).await;
                    }
                });
            }
        });
        FaultProxy { addr, fault }
    }

    /// `http://` and the proxy's address, for HTTP services.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Changes what the proxy does, at once.
    pub fn set(&self, fault: Fault) {
        if let Ok(mut slot) = self.fault.lock() {
            *slot = fault;
        }
    }
}

fn current(fault: &Mutex<Fault>) -> Fault {
    fault.lock().map(|fault| *fault).unwrap_or(Fault::Pass)
}

/// Closes `stream` with a TCP reset (`SO_LINGER` 0) instead of an orderly close.
fn reset(stream: TcpStream) {
    let _ = stream.set_zero_linger();
    drop(stream);
}

/// Forwards between `client` and `service` under the current fault until either side closes.
async fn pump(client: TcpStream, service: TcpStream, fault: Arc<Mutex<Fault>>) {
    let (mut client_read, mut client_write) = client.into_split();
    let (mut service_read, mut service_write) = service.into_split();
    let upstream = async {
        let mut buffer = vec![0u8; 64 * 1024];
        loop {
            match client_read.read(&mut buffer).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if service_write.write_all(&buffer[..n]).await.is_err() {
                        break;
                    }
                }
            }
            if matches!(current(&fault), Fault::Stop | Fault::Reset) {
                break;
            }
        }
        // The request side is done; the answer may still be coming, and only its end ends the connection.
        let _ = service_write.shutdown().await;
        std::future::pending::<()>().await
    };
    let downstream = async {
        let mut buffer = vec![0u8; 64 * 1024];
        let mut sent = 0usize;
        loop {
            let n = tokio::select! {
                read = service_read.read(&mut buffer) => match read {
                    Ok(0) | Err(_) => break,
                    Ok(n) => n,
                },
                // A fault set while nothing is being answered still cuts the connection.
                () = tokio::time::sleep(Duration::from_millis(50)) => {
                    if matches!(current(&fault), Fault::Stop | Fault::Reset) { return } else { continue }
                }
            };
            loop {
                match current(&fault) {
                    Fault::Hang => tokio::time::sleep(Duration::from_millis(50)).await,
                    Fault::Stop | Fault::Reset => return,
                    _ => break,
                }
            }
            let n = match current(&fault) {
                Fault::Delay(pause) => {
                    tokio::time::sleep(pause).await;
                    n
                }
                Fault::Truncate(limit) => n.min(limit.saturating_sub(sent)),
                _ => n,
            };
            if n == 0 || client_write.write_all(&buffer[..n]).await.is_err() {
                break;
            }
            sent += n;
        }
        let _ = client_write.shutdown().await;
    };
    // The answers' end (or a fault) ends the connection; a reset is made on the client's socket.
    tokio::select! {
        () = upstream => {}
        () = downstream => {}
    }
    if let (Ok(client), Ok(_)) = (client_read.reunite(client_write), service_read.reunite(service_write))
        && matches!(current(&fault), Fault::Stop | Fault::Reset)
    {
        reset(client);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A service that answers every read with `answer` and counts the requests it saw.
    async fn service(answer: &'static [u8]) -> (SocketAddr, Arc<Mutex<usize>>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("a free port");
        let addr = listener.local_addr().expect("its address");
        let seen = Arc::new(Mutex::new(0usize));
        let counter = seen.clone();
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let counter = counter.clone();
                tokio::spawn(async move {
                    let mut buffer = [0u8; 1024];
                    while let Ok(n) = stream.read(&mut buffer).await {
                        if n == 0 {
                            break;
                        }
                        *counter.lock().expect("the count") += 1;
                        if stream.write_all(answer).await.is_err() {
                            break;
                        }
                    }
                });
            }
        });
        (addr, seen)
    }

    /// Sends `request` on a new connection through `proxy`; what came back before the end, an error or `wait`.
    async fn ask(proxy: &FaultProxy, request: &[u8], wait: Duration) -> Result<Vec<u8>, std::io::ErrorKind> {
        let mut stream = TcpStream::connect(proxy.addr).await.map_err(|error| error.kind())?;
        stream.write_all(request).await.map_err(|error| error.kind())?;
        let mut answer = Vec::new();
        let mut buffer = [0u8; 1024];
        loop {
            match tokio::time::timeout(wait, stream.read(&mut buffer)).await {
                Err(_) | Ok(Ok(0)) => return Ok(answer),
                Ok(Ok(n)) => answer.extend_from_slice(&buffer[..n]),
                Ok(Err(error)) => return Err(error.kind()),
            }
        }
    }

    #[tokio::test]
    async fn each_fault_fails_the_traffic_its_way_and_pass_forwards_it_again() {
        let (target, seen) = service(b"the answer").await;
        let proxy = FaultProxy::start(target).await;
        // An answer is read until the connection ends or stays quiet this long: generous for a loaded machine.
        let wait = Duration::from_millis(1500);
        assert_eq!(ask(&proxy, b"question", wait).await, Ok(b"the answer".to_vec()));

        proxy.set(Fault::Truncate(3));
        assert_eq!(ask(&proxy, b"question", wait).await, Ok(b"the".to_vec()));

        // Stopped: the connection is reset before the service sees anything.
        proxy.set(Fault::Stop);
        let before = *seen.lock().expect("the count");
        let stopped = ask(&proxy, b"question", wait).await;
        assert!(stopped.as_ref().is_err() || stopped.as_ref().is_ok_and(Vec::is_empty), "{stopped:?}");
        assert_eq!(*seen.lock().expect("the count"), before);

        // Reset: the request reaches the service, its answer never reaches the client.
        proxy.set(Fault::Reset);
        let reset = ask(&proxy, b"question", wait).await;
        assert!(reset.as_ref().is_err() || reset.as_ref().is_ok_and(Vec::is_empty), "{reset:?}");
        assert_eq!(*seen.lock().expect("the count"), before + 1);

        // Hang: the request gets through and the answer is held while the fault lasts, then delivered.
        proxy.set(Fault::Hang);
        let mut stream = TcpStream::connect(proxy.addr).await.expect("a connection");
        stream.write_all(b"question").await.expect("sent");
        let mut buffer = [0u8; 64];
        let held = tokio::time::timeout(Duration::from_millis(400), stream.read(&mut buffer)).await;
        assert!(held.is_err(), "no answer while hanging");
        assert_eq!(*seen.lock().expect("the count"), before + 2);
        proxy.set(Fault::Pass);
        let n = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buffer))
            .await
            .expect("answered")
            .expect("read");
        assert_eq!(&buffer[..n], b"the answer");

        proxy.set(Fault::Delay(Duration::from_millis(200)));
        let started = std::time::Instant::now();
        assert_eq!(ask(&proxy, b"question", wait).await, Ok(b"the answer".to_vec()));
        assert!(started.elapsed() >= Duration::from_millis(200));
    }
}
