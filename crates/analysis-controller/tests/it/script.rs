//! A local HTTP metric server for the web provider whose answers follow a script per path:
//! `/m/<name>` gives the next reply of `<name>`'s script (the last one repeats), and every
//! request is recorded with its headers and query string.

use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::extract::{Path, RawQuery};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::get;
use tokio::sync::watch;

use crate::support::serve;

/// One answer of a script.
#[derive(Clone, Debug)]
pub(crate) enum Reply {
    /// 200 with this body.
    Body(&'static str),
    /// This status code with a short text body.
    Status(u16),
    /// Waits until [`Scripted::release`] is called, then answers with the next reply.
    Hold,
}

/// What a request looked like.
#[derive(Clone, Debug)]
pub(crate) struct Seen {
    pub(crate) headers: HeaderMap,
    pub(crate) query: String,
}

/// The server's state: the scripts, what was requested, and the gate `Hold` waits on.
#[derive(Clone)]
pub(crate) struct Scripted {
    pub(crate) addr: SocketAddr,
    scripts: Arc<Mutex<BTreeMap<String, VecDeque<Reply>>>>,
    seen: Arc<Mutex<BTreeMap<String, Vec<Seen>>>>,
    gate: watch::Sender<bool>,
}

impl Scripted {
    /// Starts a server with no script (every path answers 404 until given one).
    pub(crate) async fn start() -> Scripted {
        let (gate, _) = watch::channel(false);
        let mut state = Scripted {
            addr: ([127, 0, 0, 1], 0).into(),
            scripts: Arc::default(),
            seen: Arc::default(),
            gate,
        };
        let handler_state = state.clone();
        let app = axum::Router::new().route(
            "/m/{name}",
            get(move |Path(name): Path<String>, RawQuery(query): RawQuery, headers: HeaderMap| {
                let state = handler_state.clone();
                async move { state.answer(name, query.unwrap_or_default(), headers).await }
            }),
        );
        state.addr = serve(app).await;
        state
    }

    /// Sets the replies of `/m/<name>`.
    pub(crate) fn script(&self, name: &str, replies: &[Reply]) {
        assert!(!matches!(replies.last(), Some(Reply::Hold)), "a script cannot end with Hold");
        let queue = replies.iter().cloned().collect();
        self.scripts.lock().expect("lock").insert(name.to_owned(), queue);
    }

    /// The URL of `name`'s script.
    pub(crate) fn url(&self, name: &str) -> String {
        format!("http://{}/m/{name}", self.addr)
    }

    /// Lets every held request (and every later `Hold`) through.
    pub(crate) fn release(&self) {
        self.gate.send_replace(true);
    }

    /// The requests made to `/m/<name>` so far.
    pub(crate) fn seen(&self, name: &str) -> Vec<Seen> {
        self.seen.lock().expect("lock").get(name).cloned().unwrap_or_default()
    }

    /// How many requests `/m/<name>` got.
    pub(crate) fn hits(&self, name: &str) -> usize {
        self.seen(name).len()
    }

    fn next(&self, name: &str) -> Option<Reply> {
        let mut scripts = self.scripts.lock().expect("lock");
        let queue = scripts.get_mut(name)?;
        if queue.len() > 1 { queue.pop_front() } else { queue.front().cloned() }
    }

    async fn answer(
        &self,
        name: String,
        query: String,
        headers: HeaderMap,
    ) -> (StatusCode, String) {
        self.seen
            .lock()
            .expect("lock")
            .entry(name.clone())
            .or_default()
            .push(Seen { headers, query });
        loop {
            match self.next(&name) {
                None => return (StatusCode::NOT_FOUND, format!("no script for {name}")),
                Some(Reply::Body(body)) => return (StatusCode::OK, body.to_owned()),
                Some(Reply::Status(code)) => {
                    let code = StatusCode::from_u16(code).unwrap_or(StatusCode::IM_A_TEAPOT);
                    return (code, format!("scripted {code}"));
                }
                Some(Reply::Hold) => {
                    let mut open = self.gate.subscribe();
                    let _ = open.wait_for(|open| *open).await;
                }
            }
        }
    }
}
