import { useId, type InputHTMLAttributes, type ReactNode } from 'react'

export interface InputProps extends Omit<InputHTMLAttributes<HTMLInputElement>, 'size'> {
  label: string
  leadingIcon?: ReactNode
  trailingIcon?: ReactNode
  error?: string | null
  helperText?: string
  hideLabel?: boolean
}

export function Input({ label, leadingIcon, trailingIcon, error, helperText, hideLabel, id, className, ...rest }: InputProps) {
  const auto = useId()
  const inputId = id ?? `in-${auto}`
  const helpId = helperText ? `${inputId}-help` : undefined
  const errId = error ? `${inputId}-err` : undefined
  const describedBy = [rest['aria-describedby'], errId, helpId].filter(Boolean).join(' ') || undefined
  return (
    <div className={['field', error ? 'has-error' : '', className ?? ''].filter(Boolean).join(' ')}>
      <label htmlFor={inputId} className={hideLabel ? 'sr-only' : 'field-label'}>
        {label}
      </label>
      <div className="field-control">
        {leadingIcon && <span className="field-icon lead" aria-hidden="true">{leadingIcon}</span>}
        <input
          dir="auto"
          {...rest}
          id={inputId}
          aria-invalid={error ? true : undefined}
          aria-describedby={describedBy}
        />
        {trailingIcon && <span className="field-icon trail" aria-hidden="true">{trailingIcon}</span>}
      </div>
      {error && (
        <p id={errId} className="field-error" role="alert">
          {error}
        </p>
      )}
      {helperText && (
        <p id={helpId} className="field-help">
          {helperText}
        </p>
      )}
    </div>
  )
}
