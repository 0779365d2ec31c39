import { useState, type FormEvent } from "react";
import { Link } from "react-router";
import { FieldError } from "@/components/field-error";
import { useLogin } from "@/features/auth/api/login";
import { validateCredentials, type FieldErrors } from "@/features/auth/utils/validation";
import { ApiError } from "@/lib/api-error";
import { toast } from "@/lib/toast-store";

export function LoginForm({ onSuccess }: { onSuccess: () => void }) {
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [errors, setErrors] = useState<FieldErrors>({});
  const login = useLogin();

  function submit(event: FormEvent) {
    event.preventDefault();
    const found = validateCredentials(email, password);
    setErrors(found);
    if (Object.keys(found).length) return;
    login.mutate(
      { email: email.trim(), password },
      {
        onSuccess,
        onError: (error) => {
          if (error instanceof ApiError) setErrors(error.fieldErrors);
          toast.error(error);
        },
      },
    );
  }

  return (
    <form className="card auth-card" onSubmit={submit} noValidate>
      <h1>Sign in</h1>
      <div className="field">
        <label htmlFor="login-email">Email</label>
        <input
          id="login-email"
          type="email"
          autoComplete="username"
          value={email}
          aria-invalid={!!errors.email || undefined}
          aria-describedby="login-email-error"
          onChange={(event) => setEmail(event.target.value)}
        />
        <FieldError id="login-email-error" messages={errors.email} />
      </div>
      <div className="field">
        <label htmlFor="login-password">Password</label>
        <input
          id="login-password"
          type="password"
          autoComplete="current-password"
          value={password}
          aria-invalid={!!errors.password || undefined}
          aria-describedby="login-password-error"
          onChange={(event) => setPassword(event.target.value)}
        />
        <FieldError id="login-password-error" messages={errors.password} />
      </div>
      <button type="submit" className="button primary" disabled={login.isPending}>
        {login.isPending ? "Signing in…" : "Sign in"}
      </button>
      <p className="muted">
        No account yet? <Link to="/register">Create one</Link>
      </p>
    </form>
  );
}
