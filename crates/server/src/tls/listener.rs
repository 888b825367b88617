//! One port for TLS and plain HTTP: every accepted connection is classified by the first byte
//! the client sends. A TLS connection always opens with a handshake record (content type 0x16);
//! an HTTP/1 request opens with a method name (an ASCII letter). So `https://127.0.0.1:PORT`
//! (kubectl and every client-go or kube-rs client) and `http://127.0.0.1:PORT` (the weir CLI, the
//! tests, the dashboard in a browser, which then shows no certificate warning) reach the same
//! router, with the same bearer-token check.
//!
//! The handshakes run in tasks of their own, so a slow or silent client never holds up the
//! others; [`DualListener`] hands axum only connections that are ready to speak HTTP, and it
//! plugs into `axum::serve` so graceful shutdown works as for a plain listener.
//!
//! At most [`ListenerLimits::max_connections`] connections are open at once (each holds a
//! permit from the accept until it is dropped): past the cap, new connections wait in the
//! kernel's backlog, uncounted and without a file descriptor, while the open ones keep being
//! served; one warning is logged per burst that reaches the cap.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, mpsc};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;
use weir_proxy::ConnectionCap;

/// The first byte of a TLS record carrying a handshake message.
const TLS_HANDSHAKE: u8 = 0x16;

/// How long the API waits for a request's head (Go's `ReadHeaderTimeout`, which
/// kube-apiserver sets to 32 s; 10 s here, as the issue asks), also the longest a kept-alive
/// connection may stay idle between requests, and the longest a client may stay silent after
/// connecting plus take for its TLS handshake.
pub const DEFAULT_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// The most connections the API holds open at once: well under the common soft limit of 1,024
/// file descriptors, so a flood of idle connections cannot starve the store, the gateway or
/// the pods of descriptors (each listener has a cap of its own).
pub const DEFAULT_MAX_CONNECTIONS: usize = 512;

/// Limits of one listener against slow, idle or too many clients.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListenerLimits {
    /// Time allowed for a request's head, and for a connection to be idle between requests.
    pub header_read_timeout: Duration,
    /// Connections open at once; more wait to be accepted.
    pub max_connections: usize,
}

impl Default for ListenerLimits {
    fn default() -> Self {
        ListenerLimits {
            header_read_timeout: DEFAULT_HEADER_READ_TIMEOUT,
            max_connections: DEFAULT_MAX_CONNECTIONS,
        }
    }
}

/// Connections classified but not yet taken by the server.
const READY_QUEUE: usize = 64;

/// What the first byte of a connection says it speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Protocol {
    /// A TLS handshake.
    Tls,
    /// Anything else: handed to the HTTP parser as it is (which answers 400 to garbage).
    Plain,
}

/// Classifies a connection by its first byte.
pub(crate) fn classify(first_byte: u8) -> Protocol {
    if first_byte == TLS_HANDSHAKE { Protocol::Tls } else { Protocol::Plain }
}

/// An accepted connection, decrypted or not, holding its place under the connection cap.
#[derive(Debug)]
pub(crate) struct Connection {
    stream: Stream,
    _permit: OwnedSemaphorePermit,
}

/// The bytes of a connection.
#[derive(Debug)]
enum Stream {
    /// Plain HTTP.
    Plain(TcpStream),
    /// HTTPS, after the handshake.
    Tls(Box<TlsStream<TcpStream>>),
}

/// A listener that serves TLS and plain HTTP on one port (see the module docs).
#[derive(Debug)]
pub(crate) struct DualListener {
    local_addr: SocketAddr,
    ready: mpsc::Receiver<(Connection, SocketAddr)>,
}

impl DualListener {
    /// Starts accepting on `listener`; connections are classified (and TLS ones decrypted with
    /// `acceptor`) in the background until this listener is dropped.
    pub(crate) fn new(
        listener: TcpListener,
        acceptor: TlsAcceptor,
        limits: ListenerLimits,
    ) -> io::Result<Self> {
        let local_addr = listener.local_addr()?;
        let (sender, ready) = mpsc::channel(READY_QUEUE);
        tokio::spawn(accept_loop(listener, acceptor, sender, limits));
        Ok(DualListener { local_addr, ready })
    }
}

impl axum::serve::Listener for DualListener {
    type Io = Connection;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Connection, SocketAddr) {
        match self.ready.recv().await {
            Some(connection) => connection,
            // The accept loop only stops when this receiver is gone, so this is not reached;
            // if it were, accepting nothing more is the safe answer.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        Ok(self.local_addr)
    }
}

async fn accept_loop(
    listener: TcpListener,
    acceptor: TlsAcceptor,
    sender: mpsc::Sender<(Connection, SocketAddr)>,
    limits: ListenerLimits,
) {
    let mut cap = ConnectionCap::new(limits.max_connections, "API");
    let addr = listener.local_addr().ok();
    loop {
        let Some(permit) = cap.place(addr, sender.closed()).await else { return };
        let accepted = tokio::select! {
            () = sender.closed() => return,
            accepted = listener.accept() => accepted,
        };
        match accepted {
            Ok((stream, peer)) => {
                let acceptor = acceptor.clone();
                let sender = sender.clone();
                let timeout = limits.header_read_timeout;
                tokio::spawn(async move {
                    match tokio::time::timeout(timeout, open(stream, acceptor)).await {
                        Ok(Ok(stream)) => {
                            let connection = Connection { stream, _permit: permit };
                            let _ = sender.send((connection, peer)).await;
                        }
                        Ok(Err(e)) => tracing::debug!(%peer, error = %e, "connection dropped"),
                        Err(_) => tracing::debug!(%peer, "connection silent too long: dropped"),
                    }
                });
            }
            Err(e) => {
                // Out of file descriptors and the like: wait a moment, as axum's listener does.
                tracing::warn!(error = %e, "cannot accept a connection");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

/// Waits for the first byte and, for TLS, completes the handshake.
async fn open(stream: TcpStream, acceptor: TlsAcceptor) -> io::Result<Stream> {
    let mut first = [0u8; 1];
    if stream.peek(&mut first).await? == 0 {
        return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "closed before sending anything"));
    }
    let _ = stream.set_nodelay(true);
    match classify(first[0]) {
        Protocol::Plain => Ok(Stream::Plain(stream)),
        Protocol::Tls => Ok(Stream::Tls(Box::new(acceptor.accept(stream).await?))),
    }
}

impl AsyncRead for Connection {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match &mut self.get_mut().stream {
            Stream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Tls(s) => Pin::new(s).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Connection {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match &mut self.get_mut().stream {
            Stream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Stream::Tls(s) => Pin::new(s).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &mut self.get_mut().stream {
            Stream::Plain(s) => Pin::new(s).poll_flush(cx),
            Stream::Tls(s) => Pin::new(s).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &mut self.get_mut().stream {
            Stream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Stream::Tls(s) => Pin::new(s).poll_shutdown(cx),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match &mut self.get_mut().stream {
            Stream::Plain(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            Stream::Tls(s) => Pin::new(s).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match &self.stream {
            Stream::Plain(s) => s.is_write_vectored(),
            Stream::Tls(s) => s.is_write_vectored(),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use axum::Router;
    use axum::routing::get;
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, ServerName};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;
    use crate::tls::{SERVING_NAMES, TlsPaths, ensure};

    #[test]
    fn first_byte_decides() {
        // 0x16: TLS record type "handshake" (RFC 8446 §5.1); HTTP methods start with a letter.
        assert_eq!(classify(0x16), Protocol::Tls);
        for request in ["GET / HTTP/1.1", "POST /", "PATCH /", "\x15"] {
            assert_eq!(classify(request.as_bytes()[0]), Protocol::Plain, "{request:?}");
        }
    }

    async fn request(stream: &mut (impl AsyncRead + AsyncWrite + Unpin)) -> String {
        stream
            .write_all(b"GET /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .await
            .unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).await.unwrap();
        answer
    }

    /// A real rustls client (trusting only the generated CA) and a plain TCP client reach the
    /// same router on one port, for each name the certificate must carry.
    #[tokio::test]
    async fn serves_tls_and_plain_http_on_one_port() {
        let dir = tempfile::tempdir().unwrap();
        let tls = ensure(&TlsPaths::in_dir(dir.path())).unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let dual = DualListener::new(
            listener,
            TlsAcceptor::from(tls.config.clone()),
            ListenerLimits::default(),
        )
        .unwrap();
        let addr = dual.local_addr;
        let app = Router::new().route("/hello", get(|| async { "hello" }));
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(async move {
            axum::serve(dual, app)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await
        });

        let mut plain = TcpStream::connect(addr).await.unwrap();
        let answer = request(&mut plain).await;
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        assert!(answer.ends_with("hello"), "{answer}");

        let mut roots = rustls::RootCertStore::empty();
        roots.add(CertificateDer::from_pem_slice(tls.ca_pem.as_bytes()).unwrap()).unwrap();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let client = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        let connector = tokio_rustls::TlsConnector::from(Arc::new(client));
        for name in SERVING_NAMES {
            let tcp = TcpStream::connect(addr).await.unwrap();
            let server_name = ServerName::try_from(name).unwrap().to_owned();
            let mut stream = connector.connect(server_name, tcp).await.unwrap();
            let answer = request(&mut stream).await;
            assert!(answer.starts_with("HTTP/1.1 200"), "{name}: {answer}");
            assert!(answer.ends_with("hello"), "{name}: {answer}");
        }

        let tcp = TcpStream::connect(addr).await.unwrap();
        let other = ServerName::try_from("example.com").unwrap().to_owned();
        assert!(connector.connect(other, tcp).await.is_err(), "a name not in the certificate");

        stop.send(()).unwrap();
        server.await.unwrap().unwrap();
    }
}
