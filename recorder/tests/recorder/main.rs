//! Integration tests of the recorder crate: the writer and spool on a real file
//! system, crash recovery of a killed process, uploads to a real S3 server
//! (SeaweedFS), access helpers, transcripts with pocketsphinx, and the media
//! relay's recording tap over real sockets.

mod common;
mod relay;
mod s3;
mod transcript;
mod weed;
mod writer;
