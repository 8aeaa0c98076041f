//! Principal component analysis, enough to draw features in two dimensions.

/// Projects the rows of `data` (`n` rows of `dim` values) onto their top `components`
/// principal axes, found by power iteration on the covariance matrix.
pub fn pca_project(data: &[f32], dim: usize, components: usize) -> Vec<Vec<f64>> {
    let n = data.len() / dim.max(1);
    let mut mean = vec![0f64; dim];
    for row in data.chunks(dim) {
        mean.iter_mut().zip(row).for_each(|(m, &v)| *m += v as f64 / n as f64);
    }
    let mut cov = vec![0f64; dim * dim];
    for row in data.chunks(dim) {
        let centred: Vec<f64> = row.iter().zip(&mean).map(|(&v, m)| v as f64 - m).collect();
        for i in 0..dim {
            for j in i..dim {
                cov[i * dim + j] += centred[i] * centred[j];
            }
        }
    }
    for i in 0..dim {
        for j in 0..i {
            cov[i * dim + j] = cov[j * dim + i];
        }
    }
    let axes: Vec<Vec<f64>> = (0..components).fold(Vec::new(), |mut axes, _| {
        axes.push(top_eigenvector(&cov, dim, &axes));
        axes
    });
    data.chunks(dim)
        .map(|row| axes.iter().map(|axis| row.iter().zip(&mean).zip(axis).map(|((&v, m), a)| (v as f64 - m) * a).sum()).collect())
        .collect()
}

/// The dominant eigenvector of the symmetric `matrix`, orthogonal to `found`.
fn top_eigenvector(matrix: &[f64], dim: usize, found: &[Vec<f64>]) -> Vec<f64> {
    // A fixed, non-degenerate start keeps the result deterministic.
    let mut v: Vec<f64> = (0..dim).map(|i| 1.0 + (i as f64 * 0.618).fract()).collect();
    for _ in 0..300 {
        for axis in found {
            let dot: f64 = v.iter().zip(axis).map(|(a, b)| a * b).sum();
            v.iter_mut().zip(axis).for_each(|(x, a)| *x -= dot * a);
        }
        let next: Vec<f64> = (0..dim).map(|i| (0..dim).map(|j| matrix[i * dim + j] * v[j]).sum()).collect();
        let norm = next.iter().map(|x| x * x).sum::<f64>().sqrt();
        if norm == 0.0 {
            break;
        }
        v = next.into_iter().map(|x| x / norm).collect();
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_direction_of_largest_spread_first() {
        // Points spread far along (1, 1), a little along (1, -1), uncorrelated.
        let mut data = Vec::new();
        for t in -5..=5 {
            let a = t as f32;
            data.extend([a + 0.1, a - 0.1, a - 0.1, a + 0.1]);
        }
        let projected = pca_project(&data, 2, 2);
        let spread = |k: usize| projected.iter().map(|p| p[k] * p[k]).sum::<f64>();
        assert!(spread(0) > 100.0 * spread(1), "{} vs {}", spread(0), spread(1));
        // First coordinate of the point (5, 5) is its distance along the diagonal.
        assert!((projected[20][0].abs() - 50f64.sqrt()).abs() < 1e-5, "{:?}", projected[20]);
    }
}
