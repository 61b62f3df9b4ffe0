//! What every fake API of the tests shares: a real HTTP server on 127.0.0.1 (a free port), each request handled
//! on a thread of its own (a slow reply holds up nothing else), and the state the handler and the test both read.
//! It stops when dropped.

use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;

use tiny_http::{Request, Server};

pub struct Served<S> {
    /// `http://127.0.0.1:PORT`
    pub base: String,
    state: Arc<Mutex<S>>,
    server: Arc<Server>,
    thread: Option<JoinHandle<()>>,
}

impl<S: Send + 'static> Served<S> {
    /// Serves `handle` over `state`.
    pub fn start<H>(state: S, handle: H) -> Served<S>
    where
        H: Fn(Request, &Mutex<S>) + Send + Sync + 'static,
    {
        let server = Arc::new(Server::http("127.0.0.1:0").expect("bind 127.0.0.1:0"));
        let port = server.server_addr().to_ip().expect("an IP address").port();
        let state = Arc::new(Mutex::new(state));
        let handle = Arc::new(handle);
        let thread = {
            let server = Arc::clone(&server);
            let state = Arc::clone(&state);
            std::thread::spawn(move || {
                for request in server.incoming_requests() {
                    let (state, handle) = (Arc::clone(&state), Arc::clone(&handle));
                    std::thread::spawn(move || handle(request, &state));
                }
            })
        };
        Served {
            base: format!("http://127.0.0.1:{port}"),
            state,
            server,
            thread: Some(thread),
        }
    }

    /// The state, as the handlers left it.
    pub fn state(&self) -> MutexGuard<'_, S> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl<S> Drop for Served<S> {
    fn drop(&mut self) {
        self.server.unblock();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
