import { useNavigate } from "react-router";
import { useLogout } from "@/app/session";
import { ChangePasswordForm } from "@/features/auth/components/change-password-form";
import { LoginForm } from "@/features/auth/components/login-form";
import { RegisterForm } from "@/features/auth/components/register-form";
import { toast } from "@/lib/toast-store";

export function LoginPage() {
  const navigate = useNavigate();
  return <LoginForm onSuccess={() => navigate("/tasks", { replace: true })} />;
}

export function RegisterPage() {
  const navigate = useNavigate();
  return <RegisterForm onSuccess={() => navigate("/login")} />;
}

export function ChangePasswordPage() {
  const logout = useLogout();
  // A password change ends every session at once, this one included: its tokens no longer work, so the next
  // step is to sign in with the new password.
  return (
    <ChangePasswordForm
      onSuccess={() => {
        toast.success("Sign in with your new password.");
        void logout();
      }}
    />
  );
}
