// Small line icons drawn as SVG (no icon font: the runs table and the chart view look the same
// on every system, emoji fonts or not).
export function PinIcon({ filled = false }: { filled?: boolean }) {
  return (
    <svg width="12" height="12" viewBox="0 0 16 16" aria-hidden="true" focusable="false">
      <path
        d="M6 1.5h4l-.6 4.2 2.6 2.3v1.5H8.7V15L8 15.8 7.3 15V9.5H4V8l2.6-2.3z"
        fill={filled ? "currentColor" : "none"}
        stroke="currentColor"
        strokeWidth="1.3"
        strokeLinejoin="round"
      />
    </svg>
  );
}

export function EyeIcon({ open }: { open: boolean }) {
  return (
    <svg width="14" height="12" viewBox="0 0 16 12" aria-hidden="true" focusable="false">
      <path d="M1 6s2.6-4.5 7-4.5S15 6 15 6s-2.6 4.5-7 4.5S1 6 1 6z" fill="none" stroke="currentColor" strokeWidth="1.3" />
      <circle cx="8" cy="6" r="2" fill={open ? "currentColor" : "none"} stroke="currentColor" strokeWidth="1.3" />
      {!open && <path d="M2 11L14 1" stroke="currentColor" strokeWidth="1.3" />}
    </svg>
  );
}

export function PencilIcon() {
  return (
    <svg width="12" height="12" viewBox="0 0 16 16" aria-hidden="true" focusable="false">
      <path d="M11 2l3 3-8.5 8.5H2.5v-3z" fill="none" stroke="currentColor" strokeWidth="1.3" strokeLinejoin="round" />
    </svg>
  );
}
