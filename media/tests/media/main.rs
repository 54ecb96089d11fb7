//! Integration tests over real sockets on 127.0.0.1 and dedicated threads.

mod endpoint;
mod mixer;
mod pipeline;
mod relay;
mod transcode;
#[cfg(feature = "webrtc")]
mod webrtc;
