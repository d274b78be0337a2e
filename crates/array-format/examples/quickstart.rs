//! Writes, flushes, compacts and reads a small file on local disk, printing
//! each step.
//!
//! ```sh
//! cargo run --release --example quickstart            # in a temporary directory
//! cargo run --release --example quickstart -- out/dir # keep the file in out/dir
//! ```

use std::sync::Arc;

use array_format::{ArrayFile, AttributeValue, FileConfig, FillValue, Lz4Codec};
use ndarray::{Array, IxDyn};
use object_store::ObjectStore;
use object_store::local::LocalFileSystem;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let keep = std::env::args().nth(1);
    let tmp = tempfile::tempdir()?;
    let dir = match &keep {
        Some(d) => {
            std::fs::create_dir_all(d)?;
            std::path::PathBuf::from(d).canonicalize()?
        }
        None => tmp.path().to_path_buf(),
    };
    let store: Arc<dyn ObjectStore> = Arc::new(LocalFileSystem::new_with_prefix(&dir)?);
    let path = object_store::path::Path::from("quickstart.af");
    println!("creating {}", dir.join("quickstart.af").display());
    let mut file =
        ArrayFile::create(store.clone(), path.clone(), FileConfig::new(Lz4Codec)).await?;

    // A 2-D temperature field in 64 x 64 chunks, with a fill value for gaps.
    file.define_array::<f32>(
        "temperature",
        vec!["y".into(), "x".into()],
        vec![256, 256],
        Some(vec![64, 64]),
        Some(FillValue::Float(f64::NAN)),
    )?;
    file.set_attribute("temperature", "units", AttributeValue::String("K".into()))?;
    let field = Array::from_shape_fn(IxDyn(&[256, 200]), |ix| {
        273.15 + (ix[0] + ix[1]) as f32 * 0.1
    });
    file.write_array("temperature", vec![0, 0], field.view())
        .await?;
    file.flush().await?;
    println!(
        "flush 1: wrote 256 x 200 of 256 x 256 -> {} layer(s)",
        file.num_layers()
    );

    // An unaligned patch across four chunks, in a second layer.
    let patch = Array::from_elem(IxDyn(&[10, 10]), 300.0f32);
    file.write_array("temperature", vec![60, 60], patch.view())
        .await?;
    file.define_array::<String>("stations", vec!["station".into()], vec![3], None, None)?;
    let names = ndarray::arr1(&["Oslo".to_string(), "Lima".into(), "Perth".into()]).into_dyn();
    file.write_array("stations", vec![0], names.view()).await?;
    file.flush().await?;
    println!(
        "flush 2: patched 10 x 10 at (60, 60), added \"stations\" -> {} layer(s)",
        file.num_layers()
    );

    file.compact().await?;
    println!("compact: merged into {} layer(s)", file.num_layers());

    let file = ArrayFile::open(store, path, FileConfig::new(Lz4Codec)).await?;
    for meta in file.list_arrays() {
        println!(
            "  {:<12} {:<7} shape {:?} chunks {:?}",
            meta.name, meta.dtype, meta.shape, meta.chunk_shape
        );
    }
    let window = file
        .read_array::<f32>("temperature", vec![58, 58], vec![4, 4])
        .await?;
    println!("temperature[58..62, 58..62] =\n{window}");
    let gap = file
        .read_array::<f32>("temperature", vec![0, 250], vec![1, 2])
        .await?;
    println!("never written (fill value): {gap}");
    if let Some(s) = file.array_stats("temperature") {
        println!(
            "stats: min {:?} max {:?} nulls {} of {}",
            s.min, s.max, s.null_count, s.row_count
        );
    }
    println!("units = {:?}", file.get_attribute("temperature", "units")?);
    let stations = file
        .read_array::<String>("stations", vec![], vec![])
        .await?;
    println!("stations = {stations}");
    if keep.is_none() {
        println!("(the file was in a temporary directory; pass a directory to keep it)");
    }
    Ok(())
}
