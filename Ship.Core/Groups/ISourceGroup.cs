namespace Ship.Core.Groups;

/// <summary>
/// A group that generates its output without any input (a Poisson source, a spike generator). Like an
/// <see cref="IInputGroup"/>, it cannot be the target of a connection: the network refuses one at initialization,
/// naming it, instead of dropping the current.
/// </summary>
public interface ISourceGroup;
