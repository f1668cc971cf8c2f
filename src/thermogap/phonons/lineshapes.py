r"""Power spectra of mode velocities and their Lorentzian line shapes.

A phonon quasiparticle of frequency ``f0`` and lifetime ``τ`` gives a velocity power spectrum
that is, near its peak, the Lorentzian

.. math:: G(f) = \frac{A}{\pi \, (\Gamma/2)} \frac{1}{1 + ((f - f_0)/(\Gamma/2))^2},

with the full width at half maximum ``Γ = 1/(π τ)`` (THz) and the area ``A = <|v|²>``
(the seed paper's eq. 4, with ``γ = Γ``). Frequencies and widths here are ordinary
frequencies in THz; an angular FWHM ``γ`` in rad/fs is ``Γ = 1000 γ / (2π)`` THz. A harmonic
oscillator under a Langevin thermostat of friction ``γ`` (1/fs) has a velocity spectrum with
its peak at the harmonic frequency and an angular FWHM of exactly ``γ``.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from thermogap.errors import InputError

__all__ = [
    "WINDOWS",
    "LorentzianFit",
    "fit_lorentzian",
    "folded_lorentzian",
    "lorentzian",
    "power_spectra",
]

#: Tapers accepted by :func:`power_spectra` (scipy.signal window names).
WINDOWS = ("boxcar", "hann", "hamming", "blackman")

#: 1/fs in THz.
THZ_PER_INV_FS = 1000.0


def lorentzian(
    frequencies_thz: np.ndarray, center_thz: float, fwhm_thz: float, area: float
) -> np.ndarray:
    """Lorentzian of unit area times ``area``, centred at ``center_thz`` with FWHM ``fwhm_thz``.

    Parameters
    ----------
    frequencies_thz : numpy.ndarray
        shape=(n,), THz.
    center_thz, fwhm_thz : float
        Peak position and full width at half maximum, THz.
    area : float
        Integral over all frequencies (units of the spectrum times THz).
    """
    half = 0.5 * fwhm_thz
    return area / (np.pi * half) / (1.0 + ((frequencies_thz - center_thz) / half) ** 2)


def folded_lorentzian(
    frequencies_thz: np.ndarray, center_thz: float, fwhm_thz: float, area: float, baseline: float
) -> np.ndarray:
    """Lorentzians at ``+center`` and ``-center`` folded onto ``f >= 0``, plus a constant.

    This is the shape of a folded spectrum ``G(f) + G(-f)`` of a complex mode coordinate,
    which stays correct when the peak approaches zero frequency (soft modes).
    """
    return (
        lorentzian(frequencies_thz, center_thz, fwhm_thz, area)
        + lorentzian(frequencies_thz, -center_thz, fwhm_thz, area)
        + baseline
    )


def power_spectra(
    signals: np.ndarray,
    frame_interval_fs: float,
    *,
    segment_frames: int | None = None,
    window: str = "hann",
) -> tuple[np.ndarray, np.ndarray]:
    """Folded power spectral densities of complex time series (Welch, 50 % overlap).

    Parameters
    ----------
    signals : numpy.ndarray
        shape=(n_frames, n_signals), complex or real, sampled every ``frame_interval_fs``.
    frame_interval_fs : float
        Time between frames, fs.
    segment_frames : int, optional
        Frames per Welch segment (the resolution is ``1 / (segment_frames * dt)``);
        default: the whole series as one segment.
    window : str
        Taper of each segment, one of :data:`WINDOWS`.

    Returns
    -------
    frequencies_thz : numpy.ndarray
        shape=(n_freq,), ``0 ... f_Nyquist``, THz.
    spectra : numpy.ndarray
        shape=(n_freq, n_signals), ``G(f) + G(-f)`` in (signal units)² / THz, normalised so
        that ``sum(spectra) * df`` is the mean of ``|signal|²``.
    """
    from scipy.signal import get_window

    if window not in WINDOWS:
        raise InputError(f"{window=} is not a known taper; allowed: {WINDOWS}")
    if frame_interval_fs <= 0:
        raise InputError(f"{frame_interval_fs=} fs must be positive")
    x = np.asarray(signals)
    if x.ndim != 2:
        raise InputError(f"signals of shape {x.shape} must be (n_frames, n_signals)")
    n_frames = x.shape[0]
    nseg = n_frames if segment_frames is None else int(segment_frames)
    if not 4 <= nseg <= n_frames:
        raise InputError(f"segment_frames={nseg} must be between 4 and n_frames={n_frames}")
    taper = get_window(window, nseg, fftbins=True)
    step = max(1, nseg // 2)
    starts = range(0, n_frames - nseg + 1, step)
    dt_ps = frame_interval_fs / THZ_PER_INV_FS
    psd = np.zeros((nseg, x.shape[1]))
    for start in starts:
        segment = x[start : start + nseg] * taper[:, None]
        psd += np.abs(np.fft.fft(segment, axis=0)) ** 2
    psd *= dt_ps / (np.sum(taper**2) * len(starts))
    freqs = np.fft.fftfreq(nseg, d=dt_ps)
    n_pos = nseg // 2 + 1
    folded = psd[:n_pos].copy()
    negative = (-np.arange(1, n_pos)) % nseg  # index of -f for f = 1..n_pos-1
    folded[1:] += psd[negative]
    if nseg % 2 == 0:  # the Nyquist bin is its own negative
        folded[-1] = psd[nseg // 2]
    return np.abs(freqs[:n_pos]), folded


@dataclass
class LorentzianFit:
    """A Lorentzian fitted to one folded power spectrum.

    Attributes
    ----------
    center_thz : float
        Peak frequency, THz (the renormalised phonon frequency).
    fwhm_thz : float
        Full width at half maximum, THz (the phonon linewidth).
    area : float
        Integral of the peak, units of the signal squared (``<|v|²>``).
    baseline : float
        Constant background, spectrum units.
    center_stderr_thz, fwhm_stderr_thz : float
        One-sigma errors from the least-squares covariance (``nan`` if unavailable).
    converged : bool
        False when the least-squares fit failed and the peak bin and half-maximum crossing
        are reported instead.
    """

    center_thz: float
    fwhm_thz: float
    area: float
    baseline: float
    center_stderr_thz: float
    fwhm_stderr_thz: float
    converged: bool


def _half_maximum_width(freqs: np.ndarray, spectrum: np.ndarray, peak: int) -> float:
    half = 0.5 * spectrum[peak]
    left = peak
    while left > 0 and spectrum[left] > half:
        left -= 1
    right = peak
    while right < len(spectrum) - 1 and spectrum[right] > half:
        right += 1
    if left == 0:  # a peak at zero frequency: its folded half width is on one side only
        return float(2.0 * (freqs[right] - freqs[peak]) + 2.0 * (freqs[peak] - freqs[0]))
    return float(freqs[right] - freqs[left])


def _smoothed(spectrum: np.ndarray, bins: int) -> np.ndarray:
    if bins <= 1:
        return spectrum
    # mirror at f = 0 (the folded spectrum is even in f), then a running mean
    padded = np.concatenate([spectrum[bins:0:-1], spectrum, spectrum[-2 : -bins - 2 : -1]])
    kernel = np.ones(bins) / bins
    return np.convolve(padded, kernel, mode="same")[bins:-bins]


def fit_lorentzian(
    frequencies_thz: np.ndarray,
    spectrum: np.ndarray,
    *,
    window_fwhm: float = 5.0,
    smoothing_bins: int = 5,
) -> LorentzianFit:
    """Fit :func:`folded_lorentzian` to the main peak of a folded power spectrum.

    The peak is located at the spectrum's maximum; the fit uses the bins within
    ``window_fwhm`` half-maximum widths of it (at least five bins each side), so that
    a second, weaker peak elsewhere does not pull the fit.

    Parameters
    ----------
    frequencies_thz : numpy.ndarray
        shape=(n_freq,), evenly spaced from 0, THz.
    spectrum : numpy.ndarray
        shape=(n_freq,), non-negative.
    window_fwhm : float
        Half-width of the fitted range in units of the estimated FWHM.
    smoothing_bins : int
        Width of the running mean applied before the peak and its width are estimated
        (only for the starting guess and the fitting range; the fit uses the raw spectrum).
    """
    from scipy.optimize import OptimizeWarning, curve_fit

    freqs = np.asarray(frequencies_thz, dtype=float)
    spec = np.asarray(spectrum, dtype=float)
    if freqs.shape != spec.shape or freqs.ndim != 1 or len(freqs) < 8:
        raise InputError(
            f"frequencies {freqs.shape} and spectrum {spec.shape} must be equal 1-D arrays "
            "of at least 8 points"
        )
    df = float(freqs[1] - freqs[0])
    # locate the peak and its width on a smoothed copy: a noisy periodogram's highest bin
    # and its half-maximum crossings are biased towards a spike and a too narrow line
    smooth = _smoothed(spec, smoothing_bins)
    peak = int(np.argmax(smooth))
    width0 = max(_half_maximum_width(freqs, smooth, peak), df)
    center0 = float(freqs[peak])
    half_range = max(window_fwhm * width0, 5 * df)
    mask = np.abs(freqs - center0) <= half_range
    f_fit, s_fit = freqs[mask], spec[mask]
    height = float(smooth[peak])
    area0 = height * np.pi * width0 / 2.0
    fallback = LorentzianFit(center0, width0, area0, 0.0, np.nan, np.nan, converged=False)
    if height <= 0:
        return fallback
    # the peak stays inside the fitted range; a start at exactly f = 0 is a saddle point
    # of the folded shape (zero gradient in the centre), so start half a bin above it
    lower = [max(0.0, center0 - half_range), df / 20.0, 0.0, 0.0]
    upper = [center0 + half_range, 2.0 * half_range, np.inf, float(spec.max())]
    p0 = [max(center0, 0.5 * df), width0, area0, max(float(np.min(s_fit)), 0.0)]
    p0 = list(np.clip(p0, lower, upper))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", OptimizeWarning)
            params, cov = curve_fit(
                folded_lorentzian, f_fit, s_fit, p0=p0, bounds=(lower, upper), maxfev=5000
            )
    except (RuntimeError, ValueError):
        return fallback
    errors = np.sqrt(np.clip(np.diag(cov), 0.0, None)) if np.all(np.isfinite(cov)) else [np.nan] * 4
    return LorentzianFit(
        center_thz=float(params[0]),
        fwhm_thz=float(params[1]),
        area=float(params[2]),
        baseline=float(params[3]),
        center_stderr_thz=float(errors[0]),
        fwhm_stderr_thz=float(errors[1]),
        converged=True,
    )
