//! `portcullis-embed-example COMPONENT DATA_DIR TOKEN`: validates TOKEN against the data
//! directory of a `portcullis serve` (stopped or running) by calling the component directly.

use portcullis_embed_example::Plugin;
use portcullis_host::Storage;
use portcullis_native::{SqliteKv, SqliteSql};

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [component, data, token] = args.as_slice() else {
        eprintln!("usage: portcullis-embed-example COMPONENT DATA_DIR TOKEN");
        std::process::exit(2);
    };
    let data = std::path::Path::new(data);
    let sql = SqliteSql::open(&data.join("portcullis.sqlite"))?;
    let kv = SqliteKv::open(&data.join("kv.sqlite"))?;
    let keys = std::fs::read_to_string(data.join("encryption-keys"))?.lines().collect::<Vec<_>>().join(",");
    let settings = [("PORTCULLIS_ENCRYPTION_KEYS".to_owned(), keys)];
    let mut plugin =
        Plugin::load(component.as_ref(), Some(&data.join("cache")), Storage::local(kv, sql), &settings).await?;
    match plugin.validate(token).await? {
        Ok(data) => println!("valid: {} ({}) scopes {:?}", data.username, data.token_type, data.scopes),
        Err(failure) => {
            println!("invalid: {}", failure.kind);
            std::process::exit(1);
        }
    }
    Ok(())
}
