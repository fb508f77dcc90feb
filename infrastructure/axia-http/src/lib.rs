//! What axia's HTTP adapters share, kept out of the domain: [`Pacer`], the client-side request
//! rate every HTTP source keeps (Yahoo, OANDA), and [`percent_encode`] / [`path_segment`], the
//! one rule for every name that goes into a URL (a ticker, an instrument, an account, a client
//! order id, an S3 key).

mod pacer;
mod url;

pub use pacer::Pacer;
pub use url::{path_segment, percent_encode};
