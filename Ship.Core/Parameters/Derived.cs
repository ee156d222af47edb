using System.Reflection;
using System.Runtime.CompilerServices;
using Ship.Core.Errors;
using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Core.Parameters;

/// <summary>
/// A coefficient a group derives from its parameters and the time step (a decay factor exp(−dt/τ), a delay in steps, a
/// probability rate·dt), declared once with its formula (<see cref="Groups.Group"/>'s <c>Derive</c>). The framework
/// recomputes every declared coefficient when the time step is prepared (each call's first segment and every dt change)
/// and when a parameter is set, so a model never caches, keeps or refreshes a derived value by hand.
/// </summary>
public abstract class DerivedValue
{
    private protected DerivedValue(Groups.Group owner, string name)
    {
        Owner = owner;
        Name = name;
    }

    /// <summary>Group that declared the coefficient.</summary>
    public Groups.Group Owner { get; }
    /// <summary>Name used in messages and listings.</summary>
    public string Name { get; }
    /// <summary>The time step (s) the current value was computed for; NaN until computed.</summary>
    public double Dt { get; private protected set; } = double.NaN;
    /// <summary>Whether a value is held (it is computed lazily at the context's dt when read before any preparation).</summary>
    public bool IsComputed { get; private protected set; }

    /// <summary>Computes the value for <paramref name="dt"/> and holds it, keeping the previous one for <see cref="Rollback"/>.</summary>
    internal abstract void Update(double dt);
    /// <summary>Frees the previous value after every coefficient of the group was updated.</summary>
    internal abstract void Commit();
    /// <summary>Puts the previous value back (another coefficient's formula or a parameter check refused the change).</summary>
    internal abstract void Rollback();
    /// <summary>Drops the value (the group was bound again: parameters were redrawn).</summary>
    internal abstract void Invalidate();
}

/// <summary>A declared coefficient of type <typeparamref name="T"/>: a tensor, a scalar, a tuple or a record of tensors.</summary>
public sealed class Derived<T> : DerivedValue
{
    private readonly Func<double, T> _formula;
    private T? _value;
    private List<Tensor>? _owned;
    private (T? Value, List<Tensor>? Owned, double Dt, bool Computed)? _previous;

    internal Derived(Groups.Group owner, string name, Func<double, T> formula) : base(owner, name) => _formula = formula;

    /// <summary>
    /// The current value; read before the group's time step was prepared, it is computed at the context's dt.
    /// Tensors it holds belong to the coefficient: never modify them in place or dispose them.
    /// </summary>
    public T Value
    {
        get
        {
            if (!IsComputed)
            {
                Update(Owner.Context.Dt);
                Commit();
            }
            return _value!;
        }
    }

    internal override void Update(double dt)
    {
        T fresh;
        List<Tensor> owned;
        // The formula's intermediates die with this scope; the tensors of the result that it created are kept.
        using (var scope = torch.NewDisposeScope())
        {
            fresh = _formula(dt);
            owned = new List<Tensor>();
            // Only tensors the formula created are owned (a parameter's own tensor returned as is stays the parameter's).
            foreach (var t in TensorsOf(fresh))
            {
                long before = scope.DisposablesCount;
                scope.Detach(t);
                if (scope.DisposablesCount < before) owned.Add(t);
            }
        }
        _previous ??= (_value, _owned, Dt, IsComputed);
        _value = fresh;
        _owned = owned;
        Dt = dt;
        IsComputed = true;
    }

    internal override void Commit()
    {
        if (_previous is { Owned: { } old })
            foreach (var t in old)
                // By reference: List.Contains would call Tensor.Equals, which compares values (torch.equal), so an
                // old coefficient equal in value to the new one (same dt, same τ: every Run) was never freed.
                if (_owned is null || !_owned.Any(n => ReferenceEquals(n, t))) t.Dispose();
        _previous = null;
    }

    internal override void Rollback()
    {
        if (_previous is not { } p) return;
        if (_owned is not null) foreach (var t in _owned) t.Dispose();
        (_value, _owned, Dt, IsComputed) = (p.Value, p.Owned, p.Dt, p.Computed);
        _previous = null;
    }

    internal override void Invalidate()
    {
        if (_owned is not null) foreach (var t in _owned) t.Dispose();
        (_value, _owned, Dt, IsComputed, _previous) = (default, null, double.NaN, false, null);
    }

    /// <summary>The tensors a value holds: itself, a tuple's items, or a record's public tensor properties (recursively for tuples).</summary>
    private static IEnumerable<Tensor> TensorsOf(object? value)
    {
        switch (value)
        {
            case null: yield break;
            case Tensor t: yield return t; yield break;
            case ITuple tuple:
                for (int i = 0; i < tuple.Length; i++)
                    foreach (var t in TensorsOf(tuple[i])) yield return t;
                yield break;
        }
        var type = value.GetType();
        if (type.IsPrimitive || type.IsEnum || value is string) yield break;
        foreach (var p in type.GetProperties(BindingFlags.Public | BindingFlags.Instance))
            if (p.GetIndexParameters().Length == 0 && typeof(Tensor).IsAssignableFrom(p.PropertyType) && p.GetValue(value) is Tensor t)
                yield return t;
    }
}

/// <summary>Recomputes a group's declared coefficients all together: either every one takes its new value or none does.</summary>
internal static class DerivedRecompute
{
    /// <summary>Updates every coefficient for <paramref name="dt"/> in declaration order (later formulas may read earlier ones); on any failure all keep their previous values.</summary>
    public static void UpdateAll(IReadOnlyList<DerivedValue> all, double dt)
    {
        int done = 0;
        try
        {
            for (; done < all.Count; done++) all[done].Update(dt);
        }
        catch
        {
            for (int i = Math.Min(done, all.Count - 1); i >= 0; i--) all[i].Rollback();
            throw;
        }
        foreach (var d in all) d.Commit();
    }

    /// <summary>Checks a time step before anything is derived from it: a finite dt &gt; 0 seconds.</summary>
    public static void CheckDt(Groups.Group g, double dt)
    {
        if (!Clocks.TimeStep.IsValidDt(dt)) throw new ParameterException(g.DisplayName, "dt", Clocks.TimeStep.InvalidDt(dt));
    }
}
