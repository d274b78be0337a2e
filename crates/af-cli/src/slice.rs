//! numpy-like slice syntax: `0:10,5,:`, `-1`, `::2`, `...`.

/// One comma-separated entry of a slice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item {
    /// `i`: one index; the dimension is dropped.
    Index(i64),
    /// `a:b:s` with any part left out.
    Range {
        /// Start (`None`: from the beginning).
        start: Option<i64>,
        /// Stop, exclusive (`None`: to the end).
        stop: Option<i64>,
        /// Step (`None`: 1).
        step: Option<i64>,
    },
    /// `...`: as many `:` as needed.
    Ellipsis,
}

/// The selection along one dimension: `len` indices `start + k * step`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DimSel {
    /// First index.
    pub start: u64,
    /// Distance between selected indices (at least 1).
    pub step: u64,
    /// Number of selected indices.
    pub len: u64,
    /// `false` for an integer index: the dimension is dropped from the output.
    pub keep: bool,
}

impl DimSel {
    /// The whole dimension of length `n`.
    pub fn all(n: u64) -> DimSel {
        DimSel {
            start: 0,
            step: 1,
            len: n,
            keep: true,
        }
    }

    /// The array index of the `k`-th selected element.
    pub fn index(&self, k: u64) -> u64 {
        self.start + k * self.step
    }
}

fn parse_int(s: &str, what: &str, entry: &str) -> Result<i64, String> {
    s.trim().parse::<i64>().map_err(|_| {
        format!(
            "bad slice entry {entry:?}: {what} {:?} is not an integer",
            s.trim()
        )
    })
}

fn parse_opt(s: &str, what: &str, entry: &str) -> Result<Option<i64>, String> {
    if s.trim().is_empty() {
        Ok(None)
    } else {
        parse_int(s, what, entry).map(Some)
    }
}

/// Parses a slice such as `0:10,5,:` or `-1,::2`.
pub fn parse(s: &str) -> Result<Vec<Item>, String> {
    if s.trim().is_empty() {
        return Ok(Vec::new());
    }
    let mut items = Vec::new();
    for entry in s.split(',') {
        let e = entry.trim();
        if e.is_empty() {
            return Err(format!(
                "bad slice {s:?}: empty entry (use : for a whole dimension)"
            ));
        }
        if e == "..." {
            if items.contains(&Item::Ellipsis) {
                return Err(format!("bad slice {s:?}: only one ... is allowed"));
            }
            items.push(Item::Ellipsis);
            continue;
        }
        let parts: Vec<&str> = e.split(':').collect();
        let item = match parts.as_slice() {
            [i] => Item::Index(parse_int(i, "index", e)?),
            [a, b] => Item::Range {
                start: parse_opt(a, "start", e)?,
                stop: parse_opt(b, "stop", e)?,
                step: None,
            },
            [a, b, c] => {
                let step = parse_opt(c, "step", e)?;
                match step {
                    Some(0) => {
                        return Err(format!("bad slice entry {e:?}: the step must not be 0"));
                    }
                    Some(n) if n < 0 => {
                        return Err(format!(
                            "bad slice entry {e:?}: negative steps are not supported"
                        ));
                    }
                    _ => {}
                }
                Item::Range {
                    start: parse_opt(a, "start", e)?,
                    stop: parse_opt(b, "stop", e)?,
                    step,
                }
            }
            _ => return Err(format!("bad slice entry {e:?}: at most start:stop:step")),
        };
        items.push(item);
    }
    Ok(items)
}

/// numpy's clamping of a slice bound to `0..=n`.
fn clamp(v: i64, n: u64) -> u64 {
    let n_i = i128::from(n);
    let v = i128::from(v);
    let v = if v < 0 { v + n_i } else { v };
    v.clamp(0, n_i) as u64
}

/// Resolves `items` against an array's `shape`: one [`DimSel`] per
/// dimension. `names` are the dimension names, for messages.
pub fn resolve(items: &[Item], shape: &[u64], names: &[String]) -> Result<Vec<DimSel>, String> {
    let explicit = items.iter().filter(|i| **i != Item::Ellipsis).count();
    if explicit > shape.len() {
        return Err(format!(
            "the slice has {explicit} entries but the array has {} dimension{}",
            shape.len(),
            if shape.len() == 1 { "" } else { "s" }
        ));
    }
    let mut expanded: Vec<Option<&Item>> = Vec::with_capacity(shape.len());
    for item in items {
        if *item == Item::Ellipsis {
            for _ in 0..shape.len() - explicit {
                expanded.push(None);
            }
        } else {
            expanded.push(Some(item));
        }
    }
    while expanded.len() < shape.len() {
        expanded.push(None);
    }
    let mut out = Vec::with_capacity(shape.len());
    for (d, (&n, item)) in shape.iter().zip(expanded).enumerate() {
        let dim = match names.get(d) {
            Some(name) => format!("dimension {d} ({name})"),
            None => format!("dimension {d}"),
        };
        let sel = match item {
            None | Some(Item::Ellipsis) => DimSel::all(n),
            Some(Item::Index(i)) => {
                let idx = if *i < 0 {
                    i128::from(*i) + i128::from(n)
                } else {
                    i128::from(*i)
                };
                if idx < 0 || idx >= i128::from(n) {
                    return Err(format!("index {i} is out of range for {dim} of size {n}"));
                }
                DimSel {
                    start: idx as u64,
                    step: 1,
                    len: 1,
                    keep: false,
                }
            }
            Some(Item::Range { start, stop, step }) => {
                let step = step.map_or(1, |s| s.max(1) as u64);
                let a = start.map_or(0, |v| clamp(v, n));
                let b = stop.map_or(n, |v| clamp(v, n));
                let len = if b > a { (b - a).div_ceil(step) } else { 0 };
                DimSel {
                    start: a,
                    step,
                    len,
                    keep: true,
                }
            }
        };
        out.push(sel);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sel(s: &str, shape: &[u64]) -> Result<Vec<(u64, u64, u64, bool)>, String> {
        let items = parse(s)?;
        Ok(resolve(&items, shape, &[])?
            .into_iter()
            .map(|d| (d.start, d.step, d.len, d.keep))
            .collect())
    }

    #[test]
    fn numpy_semantics() {
        assert_eq!(
            sel("", &[4, 5]).unwrap(),
            vec![(0, 1, 4, true), (0, 1, 5, true)]
        );
        assert_eq!(
            sel("1", &[4, 5]).unwrap(),
            vec![(1, 1, 1, false), (0, 1, 5, true)]
        );
        assert_eq!(
            sel("-1,1:3", &[4, 5]).unwrap(),
            vec![(3, 1, 1, false), (1, 1, 2, true)]
        );
        assert_eq!(
            sel(":,::2", &[4, 5]).unwrap(),
            vec![(0, 1, 4, true), (0, 2, 3, true)]
        );
        assert_eq!(sel("-3:", &[10]).unwrap(), vec![(7, 1, 3, true)]);
        assert_eq!(sel(":-3", &[10]).unwrap(), vec![(0, 1, 7, true)]);
        assert_eq!(sel("1:100", &[10]).unwrap(), vec![(1, 1, 9, true)]);
        assert_eq!(sel("5:2", &[10]).unwrap(), vec![(5, 1, 0, true)]);
        assert_eq!(sel("1:8:3", &[10]).unwrap(), vec![(1, 3, 3, true)]);
        assert_eq!(sel("-100:", &[10]).unwrap(), vec![(0, 1, 10, true)]);
        assert_eq!(
            sel("...,0", &[2, 3, 4]).unwrap(),
            vec![(0, 1, 2, true), (0, 1, 3, true), (0, 1, 1, false)]
        );
        assert_eq!(
            sel(" 0 , : ", &[2, 3]).unwrap(),
            vec![(0, 1, 1, false), (0, 1, 3, true)]
        );
        assert_eq!(sel("", &[]).unwrap(), vec![]);
    }

    #[test]
    fn errors() {
        assert!(sel("10", &[10]).unwrap_err().contains("out of range"));
        assert!(sel("-11", &[10]).unwrap_err().contains("out of range"));
        assert!(sel("0,0", &[10]).unwrap_err().contains("1 dimension"));
        assert!(sel("::-1", &[10]).unwrap_err().contains("negative"));
        assert!(sel("::0", &[10]).unwrap_err().contains("must not be 0"));
        assert!(sel("a", &[10]).unwrap_err().contains("not an integer"));
        assert!(sel("1:2:3:4", &[10]).unwrap_err().contains("at most"));
        assert!(
            sel("0,,1", &[10, 10, 10])
                .unwrap_err()
                .contains("empty entry")
        );
        assert!(sel("...,...", &[10]).unwrap_err().contains("one ..."));
        assert!(sel("0", &[]).unwrap_err().contains("0 dimensions"));
    }
}
