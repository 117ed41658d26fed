// The header's bell: how many alerts are firing that the signed-in user may read, linking to
// the Alerts page. Hidden when the count cannot be read (signed out).
import { useQuery } from "@tanstack/react-query";
import { NavLink } from "react-router";
import { countFiring } from "./api";
import { bellLabel } from "./logic";
import "./alerts.css";

export const FIRING_KEY = ["alerts", "count"];

export function AlertBell() {
  const count = useQuery({ queryKey: FIRING_KEY, queryFn: countFiring, refetchInterval: 15_000, retry: false });
  if (!count.isSuccess) return null;
  const { label, badge } = bellLabel(count.data.firing);
  return (
    <NavLink to="/alerts" className={`alert-bell${badge ? " firing" : ""}`} aria-label={label} title={label} data-testid="alert-bell">
      <svg width="16" height="16" viewBox="0 0 24 24" aria-hidden="true" fill="none" stroke="currentColor" strokeWidth="2">
        <path d="M6 8a6 6 0 0 1 12 0c0 7 3 9 3 9H3s3-2 3-9" />
        <path d="M10.3 21a1.94 1.94 0 0 0 3.4 0" />
      </svg>
      {badge && (
        <span className="bell-count" data-testid="alert-bell-count">
          {badge}
        </span>
      )}
    </NavLink>
  );
}
